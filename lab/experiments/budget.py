"""Equal budgets: the load generator on CPUs of its own, both deployments on the same others.

Every container of either deployment is pinned to the same CPU set (DEPLOYMENT_CPUSET, read by
the Compose files) and their memory limits add up to the same 1.5 GiB, so neither architecture
gets more machine than the other, and the generator never competes with what it measures. A
run whose generator used nearly all of its CPUs, or sent more than 1% of its requests late, is
marked invalid: its figures say more about the generator than about the deployment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lab.experiments.analysis import LATE_MS, window
from lab.load.locust import LocustRun

# The edge's rate limits, off on the lab's deployments: every call comes from the one address of
# the generator, and a search must find the deployment's capacity, not the flood ceiling.
UNLIMITED_EDGE = {
    "EDGE_RATE_LIMIT_PER_SOURCE": "0",
    "EDGE_RATE_LIMIT_PER_KEY": "0",
    "EDGE_UPLOADS_PER_SOURCE": "0",
}

MEMORY_MB = 1536  # per deployment, in all (compose/*.yaml)
SATURATED_SHARE = 0.9
LATE_SHARE = 0.01


@dataclass(frozen=True)
class Budget:
    generator_cpus: str
    deployment_cpus: str
    shared: bool  # a one-CPU machine cannot keep them apart

    @classmethod
    def for_this_machine(cls) -> Budget:
        count = os.cpu_count() or 1
        if count == 1:
            return cls("0", "0", shared=True)
        return cls("0", "1" if count == 2 else f"1-{count - 1}", shared=False)

    @property
    def generator_cpu_count(self) -> int:
        return _count(self.generator_cpus)

    @property
    def deployment_cpu_count(self) -> int:
        return _count(self.deployment_cpus)

    def environment(self) -> dict[str, str]:
        return {"DEPLOYMENT_CPUSET": self.deployment_cpus}

    def describe(self) -> dict:
        return {
            "generator_cpus": self.generator_cpus,
            "deployment_cpus": self.deployment_cpus,
            "deployment_memory_mb": MEMORY_MB,
            "shared": self.shared,
        }


def generator_check(
    run: LocustRun, budget: Budget, window_edges: tuple[float, float] | None = None
) -> dict:
    """How busy the generator was, over `window_edges` (epoch seconds) where given and held
    samples, else over the whole run (steal then unknown); invalid when it saturated or sent
    late."""
    usage = run.usage(*window_edges) if window_edges else None
    if usage is None:
        share, steal = run.generator_cpu_seconds / (run.seconds * budget.generator_cpu_count), None
    else:
        share, steal = usage["generator_cpus"] / budget.generator_cpu_count, usage["steal_share"]
    requests = window(run.requests, *window_edges) if window_edges else run.requests
    late = [r for r in requests if r.late_ms > LATE_MS]
    late_share = len(late) / len(requests) if requests else 0.0
    return {
        "cpu_share": round(share, 3),
        "steal_share": None if steal is None else round(steal, 4),
        "late_share": round(late_share, 4),
        "valid": share < SATURATED_SHARE and late_share <= LATE_SHARE,
    }


def _count(cpus: str) -> int:
    total = 0
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        total += int(high or low) - int(low) + 1
    return total
