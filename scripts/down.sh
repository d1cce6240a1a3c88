#!/usr/bin/env bash
# Stop whatever this project started: local processes (by pid file) and Compose projects.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m runtimes.local down 2>/dev/null || true
if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  if docker ps -q --filter name=^churnlab-node-1$ | grep -q .; then
    .venv/bin/python -m runtimes.swarm remove || true  # stacks; the cluster stays
  fi
  for file in compose/*.yaml; do
    docker compose -f "$file" --profile live down --remove-orphans >/dev/null 2>&1 || true
  done
fi
echo "==> stopped"
