#!/usr/bin/env bash
# Host tools ChurnLab uses beside Python, from Debian's packages (needs root):
#   haproxy     the edge, when a deployment runs as local processes (no Docker)
#   wrk         make bench
#   httperf     the second open-loop generator, cross-checking Locust in make compare
#   prometheus  promtool, for the live view's configuration test
#   chromium chromium-driver
#               headless Chromium, for the tests that open the report and the live console
#   postgresql-15
#               a throwaway server for the tests of the cluster's prediction log (not a service)
#   checkov     a linter of the rendered Kubernetes manifests, from PyPI, in a virtualenv of its
#               own (/opt/checkov), since its pins would fight the project's
# Usage: scripts/install-tools.sh [package ...]   (default: all of them). Idempotent.
set -euo pipefail

install_checkov() {
  command -v checkov >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || { echo "checkov missing: run as root, or pip install checkov" >&2; return 1; }
  echo "==> installing checkov (PyPI) in /opt/checkov"
  python3 -m venv /opt/checkov
  /opt/checkov/bin/pip install --quiet "checkov>=3.3,<4"
  ln -sf /opt/checkov/bin/checkov /usr/local/bin/checkov
}

declare -A command_of=([haproxy]=haproxy [wrk]=wrk [prometheus]=promtool [chromium-driver]=chromedriver
  [postgresql-15]=/usr/lib/postgresql/15/bin/initdb)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(haproxy wrk httperf prometheus chromium chromium-driver postgresql-15 checkov)
missing=()
for package in "${wanted[@]}"; do
  if [ "$package" = checkov ]; then install_checkov; continue; fi
  command -v "${command_of[$package]:-$package}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing ${missing[*]}: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "==> installing ${missing[*]} (Debian packages)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
