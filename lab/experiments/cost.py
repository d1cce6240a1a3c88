"""What a prediction costs each deployment in CPU, by regression over offered rates.

At each of several open-loop rates (of single predictions, then of batches), every container's
CPU is read from its cgroup at the measured window's exact edges, while the load runs. By the
Utilization Law a container's utilization is U = X · D + U0: the slope D against the records
answered a second is its marginal CPU per record (its service demand), the intercept U0 its
background (health checks, timers). The container with the largest demand is the bottleneck
stage. Memory is read once, after the last rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from scipy.stats import linregress
from scipy.stats import t as student_t

from lab.experiments.analysis import window
from lab.experiments.budget import Budget, generator_check
from lab.load.locust import FIRST_CALL_SLACK_SECONDS, run_locust, wait_for_first_request
from lab.load.mixes import BATCH_SIZE
from runtimes.compose import ComposeDeployment

RECORDS = {"single": 1, "batch": BATCH_SIZE}  # per call of each mix
# Batches are offered this many times the records a second of single predictions: a batch's
# record costs a fraction of a single one's (an eighth on the monolith, a twenty-sixth on the
# microservices, CI's machine, 2026-12-03), so at the singles' rates their CPU barely rose
# above the background (0.07 CPUs on the microservices) and the fit was noise.
BATCH_LEVERAGE = 5


def cpu_regression(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    *,
    mix: str,
    rates: Sequence[float],
    settle_seconds: float,
    seconds: float,
    calls: int,
) -> dict:
    """CPU per record of `mix` ("single" or "batch"): one point per offered rate (calls a
    second, evenly spaced so each window holds the calls it should), each window at least
    `seconds` and long enough for `calls`; each container's fit, the whole deployment's, and
    the bottleneck."""
    points = [
        _point(deployment, out / f"cost-{mix}-{rate:g}.csv", budget, mix, rate,
               settle_seconds, max(seconds, calls / rate))
        for rate in rates
    ]  # fmt: skip
    throughput = [p["records_per_second"] for p in points]
    per_container = {
        name: fit(throughput, [p["utilization"][name] for p in points])
        for name in points[0]["utilization"]
    }
    total = fit(throughput, [sum(p["utilization"].values()) for p in points])
    demands = {name: f["ms_per_record"] for name, f in per_container.items() if f}
    return {
        "mix": mix,
        "points": points,
        "total": total,
        "containers": per_container,
        "bottleneck": max(demands, key=demands.get) if demands else None,
    }


def _point(
    deployment: ComposeDeployment,
    log: Path,
    budget: Budget,
    mix: str,
    rate: float,
    settle_seconds: float,
    seconds: float,
) -> dict:
    edges: dict = {}
    reader = threading.Thread(
        target=_read_edges, args=(deployment, log, settle_seconds, seconds, edges), daemon=True
    )
    reader.start()
    run = run_locust(
        deployment.url,
        log,
        loop="open",
        shape="rates",
        seconds=settle_seconds + seconds + FIRST_CALL_SLACK_SECONDS + 1,
        cpus=budget.generator_cpus,
        rates=f"{rate:g}",
        rate_per_user=rate / math.ceil(rate / 5),
        step_seconds=settle_seconds + seconds + FIRST_CALL_SLACK_SECONDS,
        mix=mix,
        arrivals="constant",
    )
    reader.join(timeout=30)
    if "after" not in edges:
        raise RuntimeError(f"the CPU was not read at the window's edges (see {log})")
    measured = edges["end"] - edges["start"]
    calls = window(run.requests, edges["start"], edges["end"])
    records = sum(r.records for r in calls if r.ok)
    return {
        "offered_rps": rate,
        "window_s": round(measured, 2),
        "records_per_second": round(records / measured, 2),
        "answered": round(sum(r.ok for r in calls) / len(calls), 4) if calls else None,
        "utilization": {
            name: round((edges["after"][name] - cpu) / measured, 4)
            for name, cpu in edges["before"].items()
            if name in edges["after"]
        },
        "generator": generator_check(run, budget, (edges["start"], edges["end"])),
    }


def _read_edges(deployment, log: Path, settle: float, seconds: float, edges: dict) -> None:
    """Each container's CPU at the window's start and end, timed from the load's first call."""
    wait_for_first_request(log)
    time.sleep(settle)
    edges["start"], edges["before"] = time.time(), deployment.cpu_seconds_by_container()
    time.sleep(seconds)
    edges["end"], edges["after"] = time.time(), deployment.cpu_seconds_by_container()


def fit(throughput: Sequence[float], utilization: Sequence[float]) -> dict | None:
    """Least squares of utilization (CPUs busy) on records a second: the slope, in ms of CPU
    per record, with its 95% interval (Student t on the slope's standard error), and the
    intercept, the background in CPUs. None under three points or one distinct rate."""
    if len(throughput) < 3 or len(set(throughput)) < 2:
        return None
    line = linregress(throughput, utilization)
    half = float(student_t.ppf(0.975, len(throughput) - 2)) * line.stderr
    return {
        "ms_per_record": round(1000 * line.slope, 4),
        "ms_per_record_interval": [round(1000 * (line.slope - half), 4),
                                   round(1000 * (line.slope + half), 4)],
        "background_cpus": round(line.intercept, 4),
        "r_squared": round(line.rvalue**2, 4),
        "points": len(throughput),
    }  # fmt: skip


def rates_for(
    capacity: float | None, shares: Sequence[float], fallback: Sequence[float], mix: str
) -> list[float]:
    """Calls a second for the regression: these shares of the capacity in records (from the
    headline search), in calls of `mix`, batches at BATCH_LEVERAGE times the records; the
    plan's own records a second without a capacity."""
    records = [capacity * share for share in shares] if capacity else list(fallback)
    leverage = BATCH_LEVERAGE if mix == "batch" else 1
    return [round(max(rate * leverage / RECORDS[mix], 0.5), 2) for rate in records]
