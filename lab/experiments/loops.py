"""Closed loop against open loop on the same deployment, where the difference teaches and where
it only shows saturation.

A closed-loop run (users that wait for each answer, then think) reports a throughput and a
latency. The open-loop run then offers that very throughput as independent arrivals and
measures latency from when each request was due. Two cases ("Open Versus Closed", NSDI'06):

- saturated: a few users with no think time, so the closed loop runs the server flat out. Its
  queue is bounded by the user count, while the open loop's grows with the run's length: the
  gap there is the run length's, labelled as such.
- moderate: enough users thinking long enough to load the server to about `share` of the
  saturated throughput (a utilization of 0.5-0.8). There the closed loop's politeness, a slow answer
  delaying that user's next call, is what hides queueing from it.

Latencies are per route: a single prediction's apart from a batch's.
"""

from __future__ import annotations

import math
from pathlib import Path

from lab.experiments.analysis import latency_by_route, window
from lab.experiments.budget import Budget, generator_check
from lab.load.locust import run_locust, steady_open_load
from runtimes.compose import ComposeDeployment


def loop_cases(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    *,
    users: int,
    share: float,
    think_seconds: float,
    seconds: float,
    settle_seconds: float,
) -> dict:
    """The saturated case with `users`, then the moderate one sized from the saturated
    throughput: share * throughput * think time users, each thinking `think_seconds`."""
    saturated = closed_and_open(
        deployment, out / "saturated", budget, users=users, think_seconds=0.0,
        seconds=seconds, settle_seconds=settle_seconds,
    )  # fmt: skip
    flat_out = saturated["closed"]["achieved_rps"]
    moderate = closed_and_open(
        deployment, out / "moderate", budget,
        users=max(1, math.ceil(share * flat_out * think_seconds)), think_seconds=think_seconds,
        seconds=seconds, settle_seconds=settle_seconds,
    )  # fmt: skip
    reached = moderate["closed"]["achieved_rps"] / flat_out if flat_out else None
    return {
        "saturated": saturated,
        "moderate": {
            **moderate,
            "target_share": share,
            "share": None if reached is None else round(reached, 3),
        },
    }


def closed_and_open(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    *,
    users: int,
    think_seconds: float,
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
        wait_seconds=think_seconds,
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
        "users": users,
        "think_seconds": think_seconds,
        "closed": {**closed_figures, "generator": generator_check(closed, budget)},
        "open": {
            "offered_rps": closed_figures["achieved_rps"],
            **_figures(opened.requests, settle_seconds, seconds),
            "generator": generator_check(opened, budget),
        },
    }


def _figures(requests: list, settle_seconds: float, seconds: float) -> dict:
    """Answered calls a second, of every route, and each prediction route's latency, in the
    window after the settle."""
    start = min(r.time for r in requests) + settle_seconds
    kept = window(requests, start, start + seconds - settle_seconds)
    return {
        "achieved_rps": round(sum(r.ok for r in kept) / (seconds - settle_seconds), 1),
        "routes": latency_by_route(kept),
    }
