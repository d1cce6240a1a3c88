#!/usr/bin/env bash
# make k8s-manifests REGISTRY=host[:port][/path]: the images built as `make up-*` builds them,
# pushed to the registry a cluster pulls from, and the overlays pinned to their digests
# (runtimes/kubernetes.py). `docker login` to that registry first if it asks for one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/runtime.sh
: "${REGISTRY:?REGISTRY=host[:port][/path] names the registry your cluster pulls from}"
[ "$(detect_runtime)" = docker ] || { echo "make k8s-manifests needs the Docker engine" >&2; exit 2; }
build_images monolith micro hybrid
.venv/bin/python -m runtimes.kubernetes "$REGISTRY"
