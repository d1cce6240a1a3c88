"""Latency against offered load, open loop: each deployment stepped past saturation.

Each step offers one rate of single predictions for `step_seconds`; its first `settle_seconds`
are left out (users starting, queues forming). Capacity is the highest offered rate whose p99
stays within the SLO while at least 99% of what was intended is answered (analysis.capacity):
predictions a second, one record each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from lab.experiments.analysis import capacity, rate_step
from lab.experiments.budget import Budget, generator_check
from lab.load.locust import run_locust


class Serving(Protocol):
    """All a latency curve needs of a deployment (Compose, local or on the swarm)."""

    @property
    def url(self) -> str: ...


def latency_curve(
    deployment: Serving,
    log: Path,
    budget: Budget,
    *,
    rates: Sequence[float],
    step_seconds: float,
    settle_seconds: float,
    slo_ms: float,
) -> dict:
    run = run_locust(
        deployment.url,
        log,
        loop="open",
        shape="rates",
        seconds=len(rates) * step_seconds,
        cpus=budget.generator_cpus,
        rates=",".join(f"{rate:g}" for rate in rates),
        step_seconds=step_seconds,
        mix="single",
    )
    start = min(r.time for r in run.requests)
    steps = [
        rate_step(
            run.requests,
            rate,
            start + index * step_seconds + settle_seconds,
            start + (index + 1) * step_seconds,
        )
        for index, rate in enumerate(rates)
    ]
    return {
        "steps": steps,
        "capacity_rps": capacity(steps, slo_ms),
        "generator": generator_check(run, budget),
    }
