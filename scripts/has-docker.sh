#!/usr/bin/env bash
# Exit 0 when a Docker engine with Compose v2 answers and ChurnLab's images are built.
docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 \
  && docker image inspect churnlab/monolith:latest churnlab/gateway:latest churnlab/ingest:latest \
     churnlab/features:latest churnlab/inference:latest churnlab/edge:latest >/dev/null 2>&1
