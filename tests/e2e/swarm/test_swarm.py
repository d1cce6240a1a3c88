"""The local Swarm for real: each node's budget binds what it runs, both stacks run their
replicas where placed, and a node killed under load has its tasks run elsewhere with no
accepted record lost."""

from __future__ import annotations

import json

import pytest

from loadtests.experiments.node_faults import node_fault_run
from loadtests.harness import cluster
from tests.e2e.swarm.conftest import NODES

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.timeout(900)]
# Two processes busy for 4 s, then the CPUs they got per second of wall time: about 2 unbound
# on two idle cores; the node's share when its budget binds them.
BURN = (
    "import multiprocessing, os, time\n"
    "def burn():\n"
    "    end = time.time() + 4\n"
    "    while time.time() < end: pass\n"
    "start = time.time()\n"
    "workers = [multiprocessing.Process(target=burn) for _ in range(2)]\n"
    "[w.start() for w in workers]; [w.join() for w in workers]\n"
    "used = os.times()\n"
    "print((used.children_user + used.children_system) / (time.time() - start))\n"
)


def test_every_node_has_its_share_and_it_binds_what_the_node_runs(swarm):
    names = cluster.nodes()
    assert len(names) == NODES
    shares = {json.loads(cluster.docker("inspect", n))[0]["HostConfig"]["NanoCpus"] for n in names}
    [share] = shares
    cpus = float(
        cluster.on_node(
            names[-1], "run", "--rm", "--entrypoint", "python3",
            "registry:5000/churnlab/ingest:latest", "-c", BURN,
        )
    )  # fmt: skip
    assert cpus <= share / 1e9 * 1.15, (cpus, share / 1e9)
    assert cpus >= share / 1e9 * 0.3, "the burn got almost no CPU: is the node starved?"


def test_both_stacks_run_their_replicas_where_placed(swarm):
    for deployment, services in {
        "monolith": {"edge": 1, "monolith": 2},
        "micro": {"edge": 1, "gateway": 1, "ingest": 1, "features": 1, "inference": 2},
    }.items():
        for service, replicas in services.items():
            running = [
                task
                for task in cluster.tasks(deployment, service)
                if task["CurrentState"].startswith("Running")
            ]
            assert len(running) == replicas, (deployment, service, running)
            if service in ("edge", "ingest"):
                assert {task["Node"] for task in running} == {"node-1"}, running


def test_a_node_killed_under_load_has_its_tasks_run_elsewhere_and_loses_nothing(swarm, tmp_path):
    result = node_fault_run("micro", tmp_path, "kill", rate=10, before=3, during=35, after=10)
    assert result["time_to_detect_s"] is not None, result
    assert result["tasks_back_s"] is not None, result
    assert result["records_lost"] == 0, result
    assert result["requests_intended"] >= 400
