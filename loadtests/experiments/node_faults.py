"""Node faults on the local Swarm, each under open-loop load: a worker node that runs a task of
the scaled service (the monolith, or inference) is killed, drained, cut off or paused.

Measured per fault: when the manager noticed (the node no longer Ready and Active), when the
service had all its tasks running again elsewhere, the requests that failed (intended but not
answered 200), and the accepted records missing from the prediction logs afterwards.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from loadtests.experiments.analysis import accepted_record_ids, success_by_route, window
from loadtests.experiments.failures import records_lost
from loadtests.harness import cluster
from loadtests.harness.locust import steady_open_load
from loadtests.harness.watch import BackgroundPoll

NODE_FAULTS = ("kill", "drain", "cut", "pause")
SCALED = {"monolith": "monolith", "micro": "inference"}
POLL_SECONDS = 1.0  # each poll is a docker CLI run inside the manager node


@dataclass
class SwarmWatch(BackgroundPoll):
    """The manager's view through a fault: the victim's state, and how many of the service's
    tasks run on other nodes."""

    deployment: str
    victim: str  # hostname, e.g. node-2
    every_seconds = POLL_SECONDS

    def sample(self) -> tuple[float, str, int] | None:
        try:
            state = cluster.node_states().get(self.victim, "?")
            elsewhere = sum(
                task["Node"] != self.victim and task["CurrentState"].startswith("Running")
                for task in cluster.tasks(self.deployment, SCALED[self.deployment])
            )
        except RuntimeError:  # the manager busy or restarting: try again
            return None
        return time.time(), state, elsewhere


def victim(deployment: str) -> str:
    """A worker (not node 1, which holds the edge and the storage) running the scaled service."""
    running = [
        task["Node"]
        for task in cluster.tasks(deployment, SCALED[deployment])
        if task["CurrentState"].startswith("Running") and task["Node"] != "node-1"
    ]
    if not running:
        raise RuntimeError(f"no worker node runs {SCALED[deployment]}")
    return sorted(running)[0]


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
    stack = cluster.Stack(deployment)
    hostname = victim(deployment)
    desired = len(cluster.tasks(deployment, SCALED[deployment]))
    fault_window: dict[str, float] = {}

    def inject() -> None:
        time.sleep(before)
        fault_window["start"] = time.time()
        with cluster.node_fault(f"churnlab-{hostname}", kind):
            time.sleep(during)
            fault_window["end"] = time.time()

    injector = threading.Thread(target=inject)
    with SwarmWatch(deployment, hostname) as watch:
        injector.start()
        run = steady_open_load(
            stack.url,
            out / f"node-{kind}.csv",
            rate=rate,
            seconds=before + during + after,
            cpus=generator_cpus,
        )
        injector.join()
    cluster.wait_for(
        lambda: cluster.node_states().get(hostname) == "Ready/Active", f"{hostname} back"
    )
    start, end = fault_window["start"], fault_window["end"]
    intended = len(run.requests)
    answered = sum(request.status == 200 for request in run.requests)
    return {
        "deployment": deployment,
        "fault": f"{kind} {hostname}",
        "service": SCALED[deployment],
        "offered_rps": rate,
        "routes": success_by_route(window(run.requests, start, end + after)),
        "requests_failed": intended - answered,
        "requests_intended": intended,
        "time_to_detect_s": seconds_until(
            watch.samples, start, lambda state, _: state != "Ready/Active"
        ),
        "tasks_back_s": seconds_until(watch.samples, start, lambda _, n: n >= desired),
        "records_lost": records_lost(stack, accepted_record_ids(run.requests), wait=90),
    }


def seconds_until(samples: list[tuple[float, str, int]], start: float, condition) -> float | None:
    """Seconds from `start` to the first sample where `condition(state, tasks)` holds."""
    for at, state, tasks in samples:
        if at >= start and condition(state, tasks):
            return round(at - start, 2)
    return None
