"""What a prediction costs each deployment at a steady offered rate: CPU-seconds per 1,000
predicted records over every container, and resident memory."""

from __future__ import annotations

from pathlib import Path

from lab.experiments.analysis import percentiles, predictions
from lab.experiments.budget import Budget, generator_check
from lab.load.locust import steady_open_load
from runtimes.compose import ComposeDeployment


def steady_cost(
    deployment: ComposeDeployment, log: Path, budget: Budget, *, rate: float, seconds: float
) -> dict:
    cpu_before = deployment.cpu_seconds()
    run = steady_open_load(
        deployment.url, log, rate=rate, seconds=seconds, cpus=budget.generator_cpus
    )
    cpu_used = deployment.cpu_seconds() - cpu_before
    records = sum(r.records for r in predictions(run.requests) if r.ok)
    return {
        "offered_rps": rate,
        "cpu_seconds_per_1000_predictions": round(1000 * cpu_used / max(records, 1), 3),
        "memory_mb": round(deployment.memory_bytes() / 1e6, 1),
        "containers": len(deployment.containers()),
        **percentiles(r.ms for r in predictions(run.requests)),
        "generator": generator_check(run, budget),
    }
