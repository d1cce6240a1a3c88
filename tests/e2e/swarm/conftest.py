"""The local two-node Swarm the tests here share: up for this package only, so the rest of the
suite never runs beside its nodes."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from runtimes import swarm
from runtimes.http import wait_for, wait_predicting
from runtimes.paths import ROOT
from runtimes.ports import PORTS, free_port
from runtimes.shell import base_image

pytestmark = [pytest.mark.docker, pytest.mark.swarm]
NODES = 2


@pytest.fixture(scope="package")
def stacks(require_docker, dataset_records) -> dict[str, str]:
    """Every wiring's stack on the cluster, brought up the README's way (make cluster-up
    NODES=2, then scripts/up.sh with TARGET=swarm) on ports of our own; the edge's URL of each."""
    ports = {deployment: str(free_port()) for deployment in swarm.ENTRY_PORTS}
    budget = swarm.Budget(nodes=NODES, total_cpus=os.cpu_count() or 2, total_memory_mb=4096)
    swarm.up(budget, ports)
    trust = pytest.MonkeyPatch()
    for variable, value in swarm.cluster_trust().items():  # the stacks answer HTTPS
        trust.setenv(variable, value)
    try:
        for deployment in ports:
            environment = os.environ | {
                "TARGET": "swarm",
                "RUNTIME": "docker",
                "PYTHON_IMAGE": base_image(),
                **{PORTS[d]["EDGE_PORT"][0]: port for d, port in ports.items()},
            }
            started = subprocess.run(
                ["scripts/up.sh", deployment], cwd=ROOT, env=environment, capture_output=True,
                text=True, timeout=900,
            )  # fmt: skip
            assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        urls = {deployment: swarm.entry_url(deployment) for deployment in ports}
        wait_steady(urls, dataset_records)
        yield urls
    finally:
        trust.undo()
        swarm.down()


def wait_steady(stacks: dict[str, str], records: list[dict]) -> None:
    """However long a fault's recovery takes (up to its deadline): every database replicated
    again, and every stack answering ten predictions in a row and a large batch. A node fault
    leaves a stack failing over, and a standby catching up, for a minute or more on a slow
    machine: no test starts in the middle of that."""
    for deployment, url in stacks.items():
        swarm.wait_replicated(deployment, timeout=300)
        wait_predicting(url, records[0], timeout=300)
        wait_for(
            lambda url=url: requests.post(
                f"{url}/v1/predict/batch", json={"records": records[:300]}, timeout=30
            ).status_code == 200,
            f"{deployment} answering a batch",
            timeout=120,
        )  # fmt: skip


@pytest.fixture
def disturbs(stacks, dataset_records) -> None:
    """For a test that breaks something (a fault, a redeploy): after it, until every stack is
    steady again. The tests that only look start steady without waiting."""
    yield
    wait_steady(stacks, dataset_records)
