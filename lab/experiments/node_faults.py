"""Node faults on the local Swarm, each under open-loop load: a worker node that runs a task of
the scaled service (the monolith, or inference) and the primary of the prediction log's
database is killed, drained, cut off or paused.

Measured per fault: when the manager noticed (the node no longer Ready and Active), when a
database primary ran on another node, when the service had all its tasks running again
elsewhere, the requests that failed (intended but not answered 200), and the accepted records
missing from the prediction log: once while the node is still lost (read only on the nodes
that remain: a lost node's disk is lost), and again after it is back.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from lab.experiments.analysis import (
    accepted_records,
    missing,
    predictions,
    success_by_route,
    window,
)
from lab.experiments.failures import records_lost
from lab.load.locust import (
    GENERATOR_START_SECONDS,
    steady_open_load,
    wait_for_first_request,
)
from lab.load.watch import BackgroundPoll
from runtimes import swarm
from runtimes.http import wait_for, wait_predicting

NODE_FAULTS = ("kill", "drain", "cut", "pause")
SCALED = {"monolith": "monolith", "micro": "inference"}
POLL_SECONDS = 1.0  # each poll is a few docker CLI runs inside the manager node
# A prediction answered this long after the fault began may have been in flight before it
# (the log's write timeout, 2 s, and a second to answer).
ONE_COPY_MARGIN_S = 3.0


class SwarmSample(NamedTuple):
    at: float
    victim_state: str  # Ready/Active, Down/Active, Ready/Drain...
    tasks_elsewhere: int  # running tasks of the scaled service on other nodes
    primary_elsewhere: bool  # the database's primary on another node than the victim
    replicated: bool  # a primary and a synchronous standby, as the monitor assigned them


@dataclass
class SwarmWatch(BackgroundPoll):
    """The manager's and the database monitor's view through a fault."""

    deployment: str
    victim: str  # hostname, e.g. node-2
    every_seconds = POLL_SECONDS

    def sample(self) -> SwarmSample | None:
        try:
            state = swarm.node_states().get(self.victim, "?")
            elsewhere = sum(
                task["Node"] != self.victim and task["CurrentState"].startswith("Running")
                for task in swarm.tasks(self.deployment, SCALED[self.deployment])
            )
            roles = swarm.database_roles(self.deployment)
            primary = swarm.primary_node(self.deployment, roles)
        except (RuntimeError, ValueError):  # the manager or monitor busy, restarting: again
            return None
        replicated = sorted(roles.values()) == ["primary", "secondary"]
        return SwarmSample(
            time.time(), state, elsewhere, primary not in (None, self.victim), replicated
        )


@dataclass
class FaultWindow:
    start: float = 0.0
    end: float = 0.0  # when the fault was undone
    survivors_read_at: float = 0.0  # the log read on the remaining nodes, before the undoing
    survivors_logged: Counter[str] = field(default_factory=Counter)


def first_customer() -> dict:
    """A real record as the API takes it (the dataset's first customer)."""
    from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset  # pandas: only when needed

    return load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")[0]


def victim(deployment: str) -> str:
    """A worker (not node 1, which holds the edge and the database's monitor) running the
    scaled service; one holding a data node of the database first. Swarm does not move tasks
    back to a node that returns, so after an earlier fault the service is spread again."""
    running = _workers_running(deployment)
    if not running:
        swarm.rebalance(deployment, SCALED[deployment])
        running = _workers_running(deployment)
    if not running:
        raise RuntimeError(f"no worker node runs {SCALED[deployment]}")
    with_data = running & set(swarm.data_node_hosts(deployment).values())
    return sorted(with_data or running)[0]


def _workers_running(deployment: str) -> set[str]:
    return {
        task["Node"]
        for task in swarm.tasks(deployment, SCALED[deployment])
        if task["CurrentState"].startswith("Running") and task["Node"] != "node-1"
    }


def node_fault_run(
    deployment: str,
    out: Path,
    kind: str,
    *,
    rate: float,
    before: float,
    during: float,
    after: float,
    generator_cpus: str | None = None,
) -> dict:
    """The fault on a worker that holds the database's primary (promoted there first if it
    holds the standby): the hardest case for the prediction log."""
    swarm.wait_replicated(deployment)  # an earlier fault's node may still be catching up
    hostname = victim(deployment)
    if swarm.promote_on(deployment, hostname):
        # The old primary rejoins as the standby: until it has caught up there is none to
        # promote, and no write is answered; then each writer's connection finds the new
        # primary on its next write. The baseline starts once the stack answers steadily.
        swarm.wait_replicated(deployment)
        wait_predicting(swarm.entry_url(deployment), first_customer())
    desired = swarm.replicas(deployment, SCALED[deployment])
    survivors = swarm.Stack(deployment, lost_nodes=frozenset({hostname}))
    fault = FaultWindow()

    log = out / f"node-{kind}.csv"

    def inject() -> None:
        wait_for_first_request(log)
        time.sleep(before)
        fault.start = time.time()
        with swarm.node_fault(f"churnlab-{hostname}", kind):
            time.sleep(during)
            fault.survivors_read_at = time.time()
            fault.survivors_logged = survivors.logged_request_ids()
            fault.end = time.time()

    injector = threading.Thread(target=inject)
    with SwarmWatch(deployment, hostname) as watch:
        injector.start()
        run = steady_open_load(
            survivors.url,
            log,
            rate=rate,
            seconds=before + during + after + GENERATOR_START_SECONDS,
            cpus=generator_cpus,
        )
        injector.join()
    wait_for(lambda: swarm.node_states().get(hostname) == "Ready/Active", f"{hostname} back")
    answered_before_read = [
        r for r in run.requests if r.time + r.ms / 1000 < fault.survivors_read_at
    ]
    # From a write's longest wait after the fault until the last poll that saw the database
    # without a standby, no node but one could hold a record: a 200 then had one copy.
    alone = [
        s.at for s in watch.samples if s.at > fault.start + ONE_COPY_MARGIN_S and not s.replicated
    ]
    answered_on_one_copy = [
        r
        for r in predictions(run.requests)
        if r.ok and alone and fault.start + ONE_COPY_MARGIN_S < r.time + r.ms / 1000 < alone[-1]
    ]
    intended = len(run.requests)
    answered = sum(request.status == 200 for request in run.requests)
    return {
        "deployment": deployment,
        "fault": f"{kind} {hostname}",
        "service": SCALED[deployment],
        "offered_rps": rate,
        "routes": success_by_route(window(run.requests, fault.start, fault.end + after)),
        "requests_failed": intended - answered,
        "requests_intended": intended,
        "time_to_detect_s": seconds_until(
            watch.samples, fault.start, lambda s: s.victim_state != "Ready/Active"
        ),
        "primary_elsewhere_s": seconds_until(
            watch.samples, fault.start, lambda s: s.primary_elsewhere
        ),
        "tasks_back_s": seconds_until(
            watch.samples, fault.start, lambda s: s.tasks_elsewhere >= desired
        ),
        "replicated_again_s": seconds_until(watch.samples, fault.end, lambda s: s.replicated),
        "answered_on_one_copy": len(answered_on_one_copy),
        # Of the predictions due at least a second before the fault (done before it began).
        "answered_before_fault": success_by_route(
            [r for r in predictions(run.requests) if r.time < fault.start - 1]
        ),
        "records_lost_node_down": missing(
            accepted_records(answered_before_read), fault.survivors_logged
        ),
        "records_lost": records_lost(
            swarm.Stack(deployment), accepted_records(run.requests), wait=90
        ),
    }


def seconds_until(
    samples: list[SwarmSample], start: float, condition: Callable[[SwarmSample], bool]
) -> float | None:
    """Seconds from `start` to the first sample where `condition` holds."""
    for sample in samples:
        if sample.at >= start and condition(sample):
            return round(sample.at - start, 2)
    return None
