# Sourced by the run scripts: decides how ChurnLab runs here.
# RUNTIME=docker|local forces one; otherwise Docker when an engine and Compose v2 answer.
# For Docker builds on a machine without a registry (no python:3.11-slim to pull) it falls back
# to the locally built base image and a loopback wheelhouse (scripts/install-docker.sh).

detect_runtime() {
  case "${RUNTIME:-auto}" in
    docker|local) echo "$RUNTIME" ;;
    auto)
      if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        echo docker
      else
        echo local
      fi ;;
    *) echo "RUNTIME must be docker, local or auto, not '$RUNTIME'" >&2; return 2 ;;
  esac
}

choose_base_image() {
  if [ -z "${PYTHON_IMAGE:-}" ]; then
    if docker image inspect python:3.11-slim >/dev/null 2>&1; then
      PYTHON_IMAGE=python:3.11-slim
    elif docker image inspect churn-base:py311 >/dev/null 2>&1; then
      echo "==> no python:3.11-slim image here; building on the local base churn-base:py311"
      PYTHON_IMAGE=churn-base:py311
    else
      PYTHON_IMAGE=python:3.11-slim
    fi
  fi
  # The local base exists because there is no registry: pip gets its wheels from loopback, and
  # the edge's Debian base is the same local image (Debian 12 too).
  if [ "$PYTHON_IMAGE" = churn-base:py311 ]; then
    WHEELHOUSE=${WHEELHOUSE:-1}
    DEBIAN_IMAGE=${DEBIAN_IMAGE:-churn-base:py311}
  fi
  PYTHON_IMAGE_DIGEST=$(image_digest "$PYTHON_IMAGE")
  DEBIAN_IMAGE_DIGEST=$(image_digest "${DEBIAN_IMAGE:-debian:bookworm-slim}")
  export PYTHON_IMAGE WHEELHOUSE DEBIAN_IMAGE PYTHON_IMAGE_DIGEST DEBIAN_IMAGE_DIGEST
}

# What the images record as their base (OCI label org.opencontainers.image.base.digest): the
# digest the base was pulled by, or, for a base built here and never in a registry, its image
# ID (the digest of its configuration). A base not here yet is pulled first, so that the build
# uses the very image whose digest is recorded.
image_digest() {
  docker image inspect "$1" >/dev/null 2>&1 || docker pull --quiet "$1" >/dev/null 2>&1 || true
  local pulled
  pulled=$(docker image inspect --format '{{range .RepoDigests}}{{.}} {{end}}' "$1" 2>/dev/null \
    | awk '{print $1}')
  if [ -n "$pulled" ]; then echo "${pulled#*@}"
  else docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
  fi
}

# Serve wheels for every image's dependencies on loopback for the duration of a build.
start_wheelhouse() {
  [ "${WHEELHOUSE:-0}" = 1 ] || return 0
  local dir=build/wheels port=${WHEELHOUSE_PORT:-8765}
  mkdir -p "$dir"
  echo "==> building the wheelhouse in $dir"
  # Once per set of locks: every build of a run calls this, and pip would look each pin up again.
  local lock stamp="$dir/.locks.sha256" sums
  sums=$(cat docker/requirements/*.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sums" ]; then
    for lock in docker/requirements/*.txt; do  # one at a time: two locks may pin one package apart
      .venv/bin/pip download --quiet --no-deps --require-hashes --dest "$dir" -r "$lock" >/dev/null
    done
    echo "$sums" > "$stamp"  # last: an interrupted download leaves no stamp
  fi
  .venv/bin/python -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
  WHEELHOUSE_PID=$!
  trap 'kill "$WHEELHOUSE_PID" 2>/dev/null || true' EXIT
  export WHEELHOUSE_URL="http://127.0.0.1:$port/"
  for _ in $(seq 1 50); do
    curl -fsS "$WHEELHOUSE_URL" >/dev/null 2>&1 && return 0; sleep 0.1
  done
  echo "wheelhouse server did not start" >&2; return 1
}

compose_file() { echo "compose/$1.yaml"; }

# The images of each deployment named (monolith, micro), as every command here builds them.
build_images() {
  choose_base_image
  start_wheelhouse
  local deployment
  for deployment in "$@"; do
    docker compose -f "$(compose_file "$deployment")" build
  done
}

wait_ready() {  # wait_ready URL SECONDS
  local url=$1 deadline=$((SECONDS + $2))
  until curl -fsS --max-time 5 "$url" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "not ready after $2 s: $url" >&2; return 1; fi
    sleep 0.5
  done
}

# A new random key (about 240 bits, URL-safe) in a new FILE, in a directory only its owner can
# enter; the file itself is readable inside the containers (their user is not the host's).
write_new_key() {  # write_new_key FILE WHAT
  mkdir -p "$(dirname "$1")"
  chmod 700 "$(dirname "$1")"
  (umask 022; { head -c 32 /dev/urandom | base64 | tr -d '/+=\n'; echo; } >"$1")
  echo "==> made $2 in $1"
}

absolute_path() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

# The key for audit reads and erasure (GET /v1/predictions/{id}, DELETE /v1/customers/{id}/
# predictions): made once, kept in var/secrets/; the deployments get it as a secret file.
# AUDIT_KEY_FILE points elsewhere to use a key of yours.
ensure_audit_key() {
  AUDIT_KEY_FILE=${AUDIT_KEY_FILE:-var/secrets/audit-key}
  [ -s "$AUDIT_KEY_FILE" ] || write_new_key "$AUDIT_KEY_FILE" "an audit key"
  AUDIT_KEY_FILE=$(absolute_path "$AUDIT_KEY_FILE")
  export AUDIT_KEY_FILE
}

# The keys the edge asks for (X-API-Key): one made once in var/secrets/api-keys, more
# added a line each; API_KEYS_FILE points elsewhere to use a file of yours. Asked for only with
# API_KEYS=1: the quick start publishes on 127.0.0.1 alone, so it trades the key for one curl
# without a header, and any process on this machine may call it (docs/security.md).
ensure_api_keys() {
  case "${API_KEYS:-0}" in
    1) export API_KEYS=1 ;;
    0) unset API_KEYS ;;
    *) echo "API_KEYS must be 1 (ask for keys) or 0, not '$API_KEYS'" >&2; return 2 ;;
  esac
  API_KEYS_FILE=${API_KEYS_FILE:-var/secrets/api-keys}
  # Made only where there is no file: one emptied to revoke every key stays empty (all 401).
  [ -e "$API_KEYS_FILE" ] || write_new_key "$API_KEYS_FILE" "an API key"
  API_KEYS_FILE=$(absolute_path "$API_KEYS_FILE")
  export API_KEYS_FILE
}
