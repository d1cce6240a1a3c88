"""The verdict for one model: which wiring serves a target rate within a p99 objective and a
memory budget, on this machine and at N such machines, from the wirings' measured cost and the
model's measured cost, composed by the Utilization Law and queued by queueing.py.

What is measured: each wiring's CPU per request, the cores it used, its latency at low load and
its memory, all with ChurnLab's own model in it; that model's cost and memory alone; and the
user's model's cost and memory alone. What is composed: a wiring's cost with the user's model
is its measured cost with ChurnLab's model taken out and the user's put in; its memory grows by
the difference in every process that holds a model. Capacity on this machine is the cores the
wiring used over that cost; its p99 is its low-load latency, the model's difference added, plus
the M/M/c wait at the target rate. N machines are N copies, each taking 1/N of the rate: a
model, never measured here past one machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lab.verdict.queueing import wait_quantile_ms

QUANTILE = 0.99
MAX_NODES = 1000
# Requests a model process can join into one call when batching is on: its threads, 4 in every
# wiring (churnlab/gunicorn_conf.py), since each model process serves only that many at once.
BATCH_BOUND = 4


@dataclass(frozen=True)
class Wiring:
    """One wiring as measured with ChurnLab's model in it (medians, with their intervals)."""

    cpu_ms: float  # every process's CPU per request, the edge's included
    cpu_ms_interval: tuple[float, float]
    cores: float  # the cores its processes used while serving at their most
    low_load_ms: float  # a request's median latency with nothing else in flight
    memory_bytes: int  # every process's resident memory, serving
    model_copies: int  # processes that each hold the model


@dataclass(frozen=True)
class Model:
    """A model's cost per record alone (median and interval), at the batch bound, and memory."""

    ms: float
    ms_interval: tuple[float, float]
    batched_ms: float | None  # a record's cost within a batch of BATCH_BOUND; None: unmeasured
    memory_bytes: int


@dataclass(frozen=True)
class Target:
    rate: float  # requests a second
    slo_ms: float  # the p99 each request must stay within
    memory_bytes: int | None = None  # what one machine may give the deployment


def cpu_ms(wiring: Wiring, ours: Model, theirs: Model, batched: bool = False) -> float:
    """CPU per request with the user's model in place of ours."""
    cost = theirs.batched_ms if batched and theirs.batched_ms is not None else theirs.ms
    return wiring.cpu_ms - ours.ms + cost


def p99_ms(wiring: Wiring, ours: Model, theirs: Model, rate: float) -> float:
    """The p99 at `rate` on one machine: the low-load latency with the user's model in place of
    ours, plus the M/M/c wait (its servers the cores used, each as fast as they were)."""
    cost = cpu_ms(wiring, ours, theirs)
    servers = max(1, round(wiring.cores))
    wait = wait_quantile_ms(servers, cost * servers / wiring.cores, rate, QUANTILE)
    return wiring.low_load_ms - ours.ms + theirs.ms + wait


def capacity(wiring: Wiring, ours: Model, theirs: Model, batched: bool = False) -> float:
    """Requests a second at which the cores it used are busy (Utilization Law)."""
    return 1000 * wiring.cores / cpu_ms(wiring, ours, theirs, batched)


def capacity_interval(wiring: Wiring, ours: Model, theirs: Model) -> tuple[float, float]:
    """Capacity at the costlier and cheaper ends of the wiring's and the model's intervals."""
    dearest = wiring.cpu_ms_interval[1] - ours.ms + theirs.ms_interval[1]
    cheapest = wiring.cpu_ms_interval[0] - ours.ms + theirs.ms_interval[0]
    return 1000 * wiring.cores / dearest, 1000 * wiring.cores / cheapest


def memory_bytes(wiring: Wiring, ours: Model, theirs: Model) -> int:
    return wiring.memory_bytes + wiring.model_copies * (theirs.memory_bytes - ours.memory_bytes)


def nodes_needed(wiring: Wiring, ours: Model, theirs: Model, target: Target) -> int | None:
    """The fewest machines like this one that serve the rate within the SLO, each taking an
    equal share; None if even MAX_NODES do not (the model alone is slower than the SLO), or
    the deployment does not fit one machine's memory budget."""
    if target.memory_bytes is not None and memory_bytes(wiring, ours, theirs) > target.memory_bytes:
        return None
    for nodes in range(1, MAX_NODES + 1):
        if p99_ms(wiring, ours, theirs, target.rate / nodes) <= target.slo_ms:
            return nodes
    return None


def judge(wirings: dict[str, Wiring], ours: Model, theirs: Model, target: Target) -> dict:
    """Each wiring's figures with the user's model, and the wiring chosen: of those that serve
    the target on the fewest machines, the one costing the least CPU per request."""
    rows = {}
    for name, wiring in wirings.items():
        low, high = capacity_interval(wiring, ours, theirs)
        rows[name] = {
            "cpu_ms_per_request": round(cpu_ms(wiring, ours, theirs), 3),
            "capacity_rps": round(capacity(wiring, ours, theirs), 1),
            "capacity_rps_interval": [round(low, 1), round(high, 1)],
            "capacity_rps_batched": round(capacity(wiring, ours, theirs, batched=True), 1)
            if theirs.batched_ms is not None
            else None,
            "p99_ms_at_rate": _finite(p99_ms(wiring, ours, theirs, target.rate)),
            "memory_bytes": memory_bytes(wiring, ours, theirs),
            "nodes_for_rate": nodes_needed(wiring, ours, theirs, target),
        }
    serving = [name for name, row in rows.items() if row["nodes_for_rate"] is not None]
    chosen = min(
        serving,
        key=lambda name: (rows[name]["nodes_for_rate"], rows[name]["cpu_ms_per_request"]),
        default=None,
    )
    return {"wirings": rows, "chosen": chosen}


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 2)
