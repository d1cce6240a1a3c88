"""Closed loop against open loop on the same deployment, to show what the difference hides.

A closed-loop run (users that wait for each answer) reports a throughput and a latency. The
open-loop run then offers that very throughput as independent arrivals and measures latency
from when each request was due. Queues that the closed loop hid (a waiting user sends
nothing, so a slow answer also slows the load) show up in the open loop's tail.
"""

from __future__ import annotations

from pathlib import Path

from lab.experiments.analysis import percentiles, predictions, window
from lab.experiments.budget import Budget, generator_check
from lab.load.locust import run_locust, steady_open_load
from runtimes.compose import ComposeDeployment


def closed_and_open(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    *,
    users: int,
    seconds: float,
    settle_seconds: float,
) -> dict:
    closed = run_locust(
        deployment.url,
        out / "closed.csv",
        loop="closed",
        shape="steady",
        seconds=seconds,
        cpus=budget.generator_cpus,
        users=users,
    )
    closed_figures = _figures(closed.requests, settle_seconds, seconds)
    opened = steady_open_load(
        deployment.url,
        out / "open.csv",
        rate=closed_figures["achieved_rps"],
        seconds=seconds,
        cpus=budget.generator_cpus,
    )
    return {
        "closed": {"users": users, **closed_figures, "generator": generator_check(closed, budget)},
        "open": {
            "offered_rps": closed_figures["achieved_rps"],
            **_figures(opened.requests, settle_seconds, seconds),
            "generator": generator_check(opened, budget),
        },
    }


def _figures(requests: list, settle_seconds: float, seconds: float) -> dict:
    start = min(r.time for r in requests) + settle_seconds
    kept = window(requests, start, start + seconds - settle_seconds)
    answered = [r for r in predictions(kept) if r.ok]
    return {
        "achieved_rps": round(len(answered) / (seconds - settle_seconds), 1),
        **percentiles(r.ms for r in predictions(kept)),
    }
