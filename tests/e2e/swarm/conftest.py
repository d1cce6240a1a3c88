"""The local two-node Swarm the tests here share: up for this package only, so the rest of the
suite never runs beside its nodes."""

from __future__ import annotations

import os
import subprocess

import pytest

from loadtests.harness import cluster
from loadtests.harness.deployments import ROOT, base_image, free_port

pytestmark = [pytest.mark.docker, pytest.mark.swarm]
NODES = 2


@pytest.fixture(scope="package")
def swarm(require_docker) -> dict[str, str]:
    """Both stacks on the cluster, brought up the README's way (make cluster-up NODES=2, then
    scripts/up.sh with TARGET=swarm) on ports of our own; the edge's URL of each."""
    ports = {"monolith": str(free_port()), "micro": str(free_port())}
    budget = cluster.Budget(nodes=NODES, total_cpus=os.cpu_count() or 2, total_memory_mb=4096)
    cluster.up(budget, ports)
    try:
        for deployment in ("monolith", "micro"):
            environment = os.environ | {
                "TARGET": "swarm",
                "RUNTIME": "docker",
                "PYTHON_IMAGE": base_image(),
                "MONOLITH_PORT": ports["monolith"],
                "GATEWAY_PORT": ports["micro"],
            }
            started = subprocess.run(
                ["scripts/up.sh", deployment], cwd=ROOT, env=environment, capture_output=True,
                text=True, timeout=900,
            )  # fmt: skip
            assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        yield {deployment: cluster.entry_url(deployment) for deployment in ports}
    finally:
        cluster.down()
