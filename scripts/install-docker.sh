#!/usr/bin/env bash
# Bring up a Docker engine, Compose v2 and a local Python base image on a Debian 12 host
# that has no container registry (see ../shared/docker-engine.md). Idempotent; needs root.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-churn-base:py311}
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { apt-get update -qq; apt_updated=1; }; }

if ! command -v dockerd >/dev/null 2>&1; then
  echo "==> installing docker.io"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "==> starting dockerd (log: $LOG)"
  # Published ports through the kernel's NAT rather than docker-proxy, a process that copies
  # every byte: under load it took a core of its own here, and blurred what was measured.
  nohup dockerd --userland-proxy=false >"$LOG" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start"; tail -20 "$LOG"; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  echo "==> installing Compose v2 (Debian 13's static docker-compose package)"
  tmp=$(mktemp -d)
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR" >"$tmp/trixie.sources"
  apt_opts=(-o Dir::Etc::sourcelist="$tmp/trixie.sources" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$tmp/lists")
  mkdir -p "$tmp/lists/partial"
  apt-get "${apt_opts[@]}" update -qq
  (cd "$tmp" && apt-get "${apt_opts[@]}" download docker-compose >/dev/null)
  dpkg -i "$tmp"/docker-compose_*.deb >/dev/null
  rm -rf "$tmp"
  docker compose version
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "==> building base image $BASE_IMAGE with debootstrap"
  command -v debootstrap >/dev/null 2>&1 || { apt_update; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$MIRROR" >/dev/null
  tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi
echo "==> docker ready: $(docker version -f '{{.Server.Version}}'), $(docker compose version --short), base $BASE_IMAGE"
