#!/usr/bin/env bash
# The live view of a running deployment (monolith|micro|hybrid), on the deployment's own network:
# Prometheus from Debian's packages, whose console page is the dashboard, and the trace view,
# MLflow's tracking server from PyPI, both in local images. The apps are recreated with their
# traces on, sent to the trace view (each one a few seconds away; `stop` or `make up-*` turns
# them off again), at the replicas each has now.
#   live.sh monolith|micro|hybrid [stop]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/runtime.sh
deployment=${1:?usage: live.sh monolith|micro|hybrid [stop]}
if [ "$(detect_runtime)" != docker ]; then
  echo "the live view runs in Docker (it scrapes containers by DNS); start the engine first" >&2
  exit 2
fi
file=$(compose_file "$deployment")
compose() { docker compose -f "$file" --profile live "$@"; }

# The deployment's apps (not the edge or the live view), each at its running replicas.
apps=() scales=()
for service in $(compose config --services); do
  case $service in edge|prometheus|traces|grafana) continue ;; esac
  apps+=("$service")
  scales+=(--scale "$service=$(compose ps -q "$service" | wc -l)")
done

if [ "${2:-}" = stop ]; then
  compose rm -sf prometheus traces
  unset OTEL_TRACES_EXPORTER OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_EXPORTER_OTLP_HEADERS
  compose up -d --no-deps --no-build --wait "${scales[@]}" "${apps[@]}"
  echo "==> live view of $deployment stopped, traces off"
  exit 0
fi

choose_base_image
start_wheelhouse
compose build prometheus traces
compose up -d --no-deps --wait prometheus traces
# Every trace unless the shell chose a sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG);
# experiment 0 is MLflow's Default.
export OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://traces:5000/v1/traces
export OTEL_EXPORTER_OTLP_HEADERS=x-mlflow-experiment-id=0
compose up -d --no-deps --no-build --wait "${scales[@]}" "${apps[@]}"
url=http://127.0.0.1:${PROMETHEUS_PORT:-9090}
traces=http://127.0.0.1:${TRACES_PORT:-5000}
wait_ready "$url/-/ready" 60
wait_ready "$traces/health" 120
echo "==> live view of $deployment: $url/consoles/churnlab.html?traces=$traces (targets: $url/targets)"
echo "==> its traces, one per request: $traces/#/experiments/0/traces"
