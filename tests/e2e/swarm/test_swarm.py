"""The local Swarm for real: each node's budget binds what it runs, both stacks run their
replicas where placed, the prediction log is replicated before a prediction is answered, and
the node of the database's primary, killed under load, has its tasks run elsewhere with no
accepted record lost."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import requests

from loadtests.experiments.node_faults import node_fault_run
from loadtests.harness import cluster
from loadtests.harness.faults import SwarmTaskFaults
from tests.e2e.load import Load
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
        "micro": {"edge": 1, "gateway": 1, "ingest": 2, "features": 1, "inference": 2},
    }.items():
        placed = {"edge": 1, "db-monitor": 1, "db-a": 1, "db-b": 1, **services}
        for service, replicas in placed.items():
            running = [
                task
                for task in cluster.tasks(deployment, service)
                if task["CurrentState"].startswith("Running")
            ]
            assert len(running) == replicas, (deployment, service, running)
            if service in ("edge", "db-monitor"):
                assert {task["Node"] for task in running} == {"node-1"}, running
        # The log's two copies on two nodes: one node's loss leaves one.
        assert cluster.data_node_hosts(deployment) == {"db-a": "node-1", "db-b": "node-2"}


@pytest.mark.parametrize("deployment", ["monolith", "micro"])
def test_a_prediction_is_on_the_standby_when_it_is_answered(swarm, deployment, record_body):
    """Synchronous replication: the 200 comes after the standby has the record, so it can
    be read there with the primary's node left out."""
    primary = cluster.primary_node(deployment)
    assert primary is not None, cluster.database_roles(deployment)
    request_id = f"replicated-{deployment}"
    answer = requests.post(
        f"{swarm[deployment]}/v1/predict",
        json=record_body,
        headers={"X-Request-ID": request_id},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    on_standby = cluster.logged_request_ids(deployment, lost_nodes=frozenset({primary}))
    assert request_id in on_standby


def test_a_killed_inference_task_is_replaced_while_predictions_go_on(swarm, record_body):
    """A task fault through the node's engine: the gateway retries the other replica, and
    Swarm starts a new task for the killed one."""
    killed, _, _ = cluster.task_container("micro", "inference")
    before = {task["ID"] for task in cluster.tasks("micro", "inference")}
    with Load(swarm["micro"], record_body, seconds=20, rate=10) as load:
        time.sleep(4)
        with SwarmTaskFaults("micro").fault("inference", "kill"):
            pass
    assert len(load.statuses) >= 100
    assert load.failure_rate <= 0.05, Counter(load.statuses)
    cluster.wait_for(
        lambda: (
            len(_running("micro", "inference") - before) >= 1
            and len(_running("micro", "inference")) == 2
        ),
        f"a new inference task (one was killed on {killed})",
    )


def test_a_blackholed_inference_task_is_routed_around(swarm, record_body):
    """Connections to one replica hang (iptables in its namespace, entered from its node):
    the gateway's connect timeout and ejection send predictions to the other one."""
    with Load(swarm["micro"], record_body, seconds=16, rate=10) as load:
        time.sleep(3)
        with SwarmTaskFaults("micro").fault("inference", "blackhole"):
            time.sleep(8)
    assert len(load.statuses) >= 100
    assert load.failure_rate <= 0.05, Counter(load.statuses)


def _running(deployment: str, service: str) -> set[str]:
    return {
        task["ID"]
        for task in cluster.tasks(deployment, service)
        if task["CurrentState"].startswith("Running")
    }


@pytest.mark.parametrize("deployment", ["monolith", "micro"])
def test_the_primarys_node_killed_under_load_loses_nothing(swarm, deployment, tmp_path):
    """The worker that runs the scaled service and the database's primary is killed: its
    tasks run elsewhere, the standby is promoted, and every acknowledged record is on the
    node that remains, before the killed one comes back."""
    result = node_fault_run(deployment, tmp_path, "kill", rate=10, before=3, during=35, after=10)
    assert result["time_to_detect_s"] is not None, result
    assert result["primary_elsewhere_s"] is not None, result
    assert result["tasks_back_s"] is not None, result
    assert result["records_lost_node_down"] == 0, result
    assert result["records_lost"] == 0, result
    assert result["requests_intended"] >= 400
    answered = result["requests_intended"] - result["requests_failed"]
    assert answered >= result["requests_intended"] / 3, "the stack did not serve on"
