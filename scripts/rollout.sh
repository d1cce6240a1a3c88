#!/usr/bin/env bash
# Replace a service's containers without a gap: start as many new replicas beside the old ones,
# wait until they are healthy, then stop the old ones one at a time (gunicorn finishes their
# in-flight requests; the gateway has already moved on). `docker compose up --force-recreate`
# stops every replica at once, so even a scaled service is briefly absent that way.
# Usage: scripts/rollout.sh SERVICE [compose file, default compose/micro.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/runtime.sh
service=${1:?usage: rollout.sh SERVICE [compose file]}
file=${2:-compose/micro.yaml}
choose_base_image >/dev/null
compose=(docker compose -f "$file")

old=$("${compose[@]}" ps -q "$service")
count=$(wc -w <<<"$old")
[ "$count" -gt 0 ] || { echo "$service has no running container" >&2; exit 1; }
echo "==> starting $count new $service replica(s) beside the old ones"
"${compose[@]}" up -d --no-deps --no-build --no-recreate --scale "$service=$((count * 2))" "$service"
"${compose[@]}" up -d --no-deps --no-build --no-recreate --scale "$service=$((count * 2))" --wait "$service"
for id in $old; do
  echo "==> retiring $(docker inspect -f '{{.Name}}' "$id" | tr -d /)"
  docker stop -t 25 "$id" >/dev/null
  docker rm "$id" >/dev/null
  sleep 1  # the gateway re-resolves names every second
done
echo "==> $service rolled out: $("${compose[@]}" ps -q "$service" | wc -w) replica(s)"
