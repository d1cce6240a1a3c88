#!/usr/bin/env bash
# The live view of a running deployment (monolith|micro): Prometheus from Debian's packages, in a
# local image, on the deployment's own network; its console page is the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/runtime.sh
deployment=${1:?usage: live.sh monolith|micro}
if [ "$(detect_runtime)" != docker ]; then
  echo "the live view runs in Docker (it scrapes containers by DNS); start the engine first" >&2
  exit 2
fi
choose_base_image
file=$(compose_file "$deployment")
docker compose -f "$file" --profile live build prometheus
docker compose -f "$file" --profile live up -d --no-deps --wait prometheus
url=http://127.0.0.1:${PROMETHEUS_PORT:-9090}
wait_ready "$url/-/ready" 60
echo "==> live view of $deployment: $url/consoles/churnlab.html (targets: $url/targets)"
