"""Faults at a fixed offered rate: what each one costs the clients, and whether anything
accepted was lost.

The load is open loop at one rate for both deployments, so a fault cannot reduce the load it
is measured under (a closed loop would send less while requests hang, and fast refusals would
inflate the request count). Success per route is answered (200) over intended. The gateway's
faults run twice: with its resilience on, and with retries, breaker, ejection and spool off,
to show what those buy.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from lab.experiments.analysis import (
    accepted_records,
    blast_radius,
    missing,
    success_by_route,
    time_to_detect,
    time_to_recover,
    timeline,
    window,
)
from lab.experiments.budget import Budget, generator_check
from lab.experiments.plan import Fault
from lab.load.locust import (
    GENERATOR_START_SECONDS,
    LocustRun,
    steady_open_load,
    wait_for_first_request,
)
from lab.load.watch import ReadinessWatch
from runtimes.compose import ComposeDeployment
from runtimes.faults import DockerFaults

# The gateway's resilience switched off (churnlab/config.py): one attempt, no breaker, no
# ejection, no spool.
RESILIENCE_OFF = {
    "CHURNLAB_STAGE_ATTEMPTS": "1",
    "CHURNLAB_BREAKER_FAILURES": "0",
    "CHURNLAB_EJECT_SECONDS": "0",
    "CHURNLAB_SPOOL": "false",
}


def fault_run(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    fault: Fault,
    *,
    rate: float,
    before: float,
    during: float,
    after: float,
) -> dict:
    """Steady open-loop load; the fault for `during` seconds after `before`; then `after`."""

    def inject() -> dict[str, float]:
        start = time.time()
        with applied(deployment, fault, during):
            time.sleep(during)
            return {"start": start, "end": time.time()}  # recovery counts from the undoing

    with ReadinessWatch(deployment.url) as watch:
        run, fault_window = during_load(
            deployment, out / f"fault-{fault.component}-{fault.kind}.csv", budget, inject,
            rate=rate, before=before, seconds=before + during + after,
        )  # fmt: skip
        time.sleep(2)
    if "error" in fault_window:
        return {"fault": fault.label, "error": fault_window["error"]}
    start, end = fault_window["start"], fault_window["end"]
    routes = success_by_route(window(run.requests, start, end))
    first = min(r.time for r in run.requests)
    return {
        "fault": fault.label,
        "routes": routes,
        "blast_radius": blast_radius(routes),
        "time_to_detect_s": time_to_detect(watch.samples, start),
        "time_to_recover_s": time_to_recover(run.requests, watch.samples, end),
        "records_lost": records_lost(deployment, accepted_records(run.requests)),
        "timeline": timeline(run.requests, first),
        "fault_window_s": [round(start - first, 2), round(end - first, 2)],
        "generator": generator_check(run, budget),
    }


def during_load(
    deployment: ComposeDeployment,
    log: Path,
    budget: Budget,
    act: Callable[[], dict],
    *,
    rate: float,
    before: float,
    seconds: float,
) -> tuple[LocustRun, dict]:
    """Steady open-loop load for `seconds`, and `act` run beside it once `before` seconds of
    it have passed: the run, and what `act` returned (or {"error": ...}, the run going on)."""
    outcome: dict = {}

    def inject() -> None:
        try:
            wait_for_first_request(log)
            time.sleep(before)
            outcome.update(act())
        except Exception as error:  # reported in the results rather than ending the run
            outcome["error"] = f"{type(error).__name__}: {error}"

    injector = threading.Thread(target=inject)
    injector.start()
    run = steady_open_load(
        deployment.url,
        log,
        rate=rate,
        seconds=seconds + GENERATOR_START_SECONDS,
        cpus=budget.generator_cpus,
    )
    injector.join()
    return run, outcome


@contextmanager
def applied(deployment: ComposeDeployment, fault: Fault, seconds: float) -> Iterator[None]:
    """The fault, undone on exit. "kill-while-spooling" kills the gateway while ingest is
    paused, so it dies holding spooled records: they must be replayed after its restart."""
    faults = DockerFaults()
    if fault.kind != "kill-while-spooling":
        with faults.fault(deployment.containers(fault.component)[0].name, fault.kind):
            yield
        return
    [ingest] = deployment.containers("ingest")
    gateway = deployment.containers("gateway")[0]  # of one or more
    with faults.fault(ingest.name, "pause"):
        time.sleep(seconds / 3)  # predictions spool meanwhile
        with faults.fault(gateway.name, "kill"):
            yield


class LoggedDeployment(Protocol):
    def logged_request_ids(self) -> Counter[str]:
        """Predictions in the prediction log, by correlation id."""
        ...


def records_lost(deployment: LoggedDeployment, accepted: Counter[str], wait: float = 60) -> int:
    """Acknowledged records missing from the prediction log once any spool has drained."""
    deadline = time.monotonic() + wait
    while True:
        lost = missing(accepted, deployment.logged_request_ids())
        if not lost or time.monotonic() > deadline:
            return lost
        time.sleep(1)
