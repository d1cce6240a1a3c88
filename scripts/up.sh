#!/usr/bin/env bash
# Start one deployment (monolith|micro|hybrid) in containers, or as local processes without Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/runtime.sh
deployment=${1:?usage: up.sh monolith|micro|hybrid}   # TARGET=compose (default) or swarm
runtime=$(detect_runtime)
target=${TARGET:-compose}
ensure_audit_key
ensure_api_keys
if [ "${MODEL_SERVER:-churnlab}" != churnlab ] && { [ "$runtime" != local ] || [ "$target" = swarm ]; }; then
  echo "MODEL_SERVER=$MODEL_SERVER runs as local processes only: RUNTIME=local MODEL_SERVER=$MODEL_SERVER make up-$deployment" >&2
  exit 2
fi

if [ "$target" = swarm ]; then
  [ "$runtime" = docker ] || { echo "TARGET=swarm needs the Docker engine" >&2; exit 2; }
  echo "==> $deployment on the local swarm (make cluster-up first)"
  build_images "$deployment"
  .venv/bin/python -m runtimes.swarm deploy "$deployment"
elif [ "$runtime" = docker ]; then
  build_images "$deployment"
  echo "==> $deployment in Docker (base image $PYTHON_IMAGE)"
  docker compose -f "$(compose_file "$deployment")" up -d --wait
else
  echo "==> no Docker engine answering (or RUNTIME=local): running $deployment as local processes"
  scripts/install-tools.sh haproxy  # the same edge as in the containers
  CHURNLAB_AUDIT_KEY_FILE=$AUDIT_KEY_FILE EDGE_API_KEYS_FILE=${API_KEYS:+$API_KEYS_FILE} \
    .venv/bin/python -m runtimes.local up "$deployment"
fi
case "$deployment" in
  monolith) url=http://127.0.0.1:${MONOLITH_PORT:-8000} ;;
  micro) url=http://127.0.0.1:${GATEWAY_PORT:-8080} ;;
  hybrid) url=http://127.0.0.1:${HYBRID_PORT:-8090} ;;
esac
curl=curl
if [ "$target" = swarm ]; then  # HTTPS, certified by the cluster's own CA (docs/cluster.md)
  url=https${url#http}
  export CURL_CA_BUNDLE=$PWD/var/secrets/cluster/ca.crt
  curl="curl --cacert $CURL_CA_BUNDLE"
fi
wait_ready "$url/readyz" 120
echo "==> $deployment ready at $url (runtime: $runtime); try: $curl $url/readyz"
if [ -n "${API_KEYS:-}" ]; then
  echo "    every call under /v1/ needs a key: $curl -H \"X-API-Key: \$(head -1 $API_KEYS_FILE)\" $url/v1/model"
else
  echo "    no API key asked (API_KEYS=1 asks for one): any process on this machine may call it"
fi
echo "    audit reads and erasure: $curl -H \"Authorization: Bearer \$(cat $AUDIT_KEY_FILE)\" $url/v1/predictions/<prediction_id>"
