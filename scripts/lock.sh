#!/usr/bin/env bash
# The images' hash-pinned locks, docker/requirements/<extra>.txt: one per pip extra an image
# installs ("core" for the stages that need none), resolved from pyproject.toml's ranges for
# the images' Python (3.11 on Linux), with setuptools to build the project itself. The
# Dockerfile installs them with --require-hashes. `make lock` after a change to the ranges.
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${LOCK_COMPILER:-.venv/bin/pip-compile}  # not PIP_*: pip reads those as its options
for extra in core inference postgres monolith gateway hybrid; do
  echo "==> docker/requirements/$extra.txt"
  options=()
  [ "$extra" = core ] || options=(--extra "$extra")
  # --allow-unsafe keeps setuptools in the lock (pip-tools calls build tools "unsafe"), the
  # index flags leave this machine's mirrors out of a file the images read.
  CUSTOM_COMPILE_COMMAND="make lock" "$compiler" --quiet --generate-hashes --allow-unsafe \
    --strip-extras --build-deps-for wheel --no-emit-index-url --no-emit-find-links \
    "${options[@]}" --output-file "docker/requirements/$extra.txt" pyproject.toml
  # The monolith's and the hybrid's extras name the project's own (churnlab[inference,postgres]),
  # so pip-compile lists the project too; the Dockerfile installs it from its source, after the lock.
  sed -i '/^# WARNING: pip install will require/,/^    # via file:/d' "docker/requirements/$extra.txt"
done
# The trace view's image installs MLflow alone, nothing of the project's.
echo "==> docker/requirements/traces.txt"
CUSTOM_COMPILE_COMMAND="make lock" "$compiler" --quiet --generate-hashes --allow-unsafe \
  --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file docker/requirements/traces.txt docker/requirements/traces.in
