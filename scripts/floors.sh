#!/usr/bin/env bash
# make test-floors: the tests that need no Docker, run on the lowest version of every dependency
# that pyproject.toml allows (uv's lowest-direct resolution), so that its floors are versions
# that work, not guesses. The dev tools come at their newest within those floors. The venv is
# build/floors/venv; the floors it ran on, build/floors/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/floors
mkdir -p "$dir"
.venv/bin/uv pip compile pyproject.toml --quiet --no-header --extra monolith --extra gateway \
  --extra train --resolution lowest-direct --python-version 3.11 --output-file "$dir/requirements.txt"
rm -rf "$dir/venv"  # nothing left from the floors of an earlier run
"${PYTHON:-python3}" -m venv "$dir/venv"
pip=("$dir/venv/bin/pip" install --quiet)
"${pip[@]}" --upgrade "pip>=25.1"
"${pip[@]}" -r "$dir/requirements.txt"
"${pip[@]}" --no-deps -e .
"${pip[@]}" --constraint "$dir/requirements.txt" --group dev
echo "==> on the floors: $(grep -cE '^[a-z]' "$dir/requirements.txt") packages ($dir/requirements.txt)"
"$dir/venv/bin/pytest" -q -m "not docker" tests/unit tests/integration "$@"
