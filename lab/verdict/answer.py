"""The verdict for one model: which wiring serves a target rate within a p99 objective and a
memory budget, on this machine and at N such machines, from each wiring measured serving two
models of different cost and the user's model measured alone.

What is measured: each wiring's CPU per request, requests a second, latency at low load and
memory, serving ChurnLab's logistic regression and a network some sixty times dearer; each of
those models' cost alone, and the user's. What is drawn between them: straight lines in the
model's cost, of CPU per request, of the cores kept busy and of low-load latency; the user's
model is read off them, interpolated between the two models measured or extrapolated past them
(said so), and its capacity is the cores over the CPU (the Utilization Law). Its p99 adds the
M/M/c wait at the target rate (queueing.py). N machines are N copies, each taking 1/N of the rate:
a model, never measured here past one machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.verdict.queueing import wait_quantile_ms

QUANTILE = 0.99
MAX_NODES = 1000
# Requests a model process can join into one call when batching is on: its threads, 4 in every
# wiring (churnlab/gunicorn_conf.py), since each model process serves only that many at once.
BATCH_BOUND = 4


@dataclass(frozen=True)
class Point:
    """One wiring measured serving one model: medians, with the intervals of the two the
    capacity is drawn from."""

    model_ms: float  # the model's own cost per record, measured alone
    cpu_ms: float  # every process's CPU per request, the edge's included
    rps: float  # requests a second served at its most
    rps_interval: tuple[float, float]
    low_load_ms: float  # a request's median latency with nothing else in flight


@dataclass(frozen=True)
class Wiring:
    points: tuple[Point, ...]  # two or more model costs
    memory_bytes: int  # every process's resident memory, serving ChurnLab's model
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


def _line(points: tuple[Point, ...], values: list[float], least_slope: float | None = None):
    """The least-squares line of `values` against the models' costs, as (slope, intercept);
    its slope raised to `least_slope` where noise between close costs drew it lower."""
    xs = [point.model_ms for point in points]
    slope, intercept = np.polyfit(xs, values, 1)
    if least_slope is not None and slope < least_slope:
        slope, intercept = least_slope, float(np.mean(values)) - least_slope * float(np.mean(xs))
    return float(slope), float(intercept)


def cpu_ms(wiring: Wiring, model_ms: float) -> float:
    """CPU per request serving a model of this cost: never less than the model's own cost
    more per ms of it, since every request runs the model once."""
    slope, intercept = _line(wiring.points, [p.cpu_ms for p in wiring.points], least_slope=1.0)
    return slope * model_ms + intercept


def low_load_ms(wiring: Wiring, model_ms: float) -> float:
    """A request's latency with nothing else in flight, the model's cost at least in it."""
    values = [p.low_load_ms for p in wiring.points]
    slope, intercept = _line(wiring.points, values, least_slope=1.0)
    return slope * model_ms + intercept


def cores(wiring: Wiring, model_ms: float, rps: list[float] | None = None) -> float:
    """The cores the wiring kept busy at its most (requests a second x CPU per request), along
    the models' costs, within the least and most it was seen to use."""
    served = rps or [point.rps for point in wiring.points]
    used = [rate * point.cpu_ms / 1000 for rate, point in zip(served, wiring.points, strict=True)]
    slope, intercept = _line(wiring.points, used)
    return min(max(slope * model_ms + intercept, min(used)), max(used))


def capacity(wiring: Wiring, model_ms: float, rps: list[float] | None = None) -> float:
    """Requests a second at which the cores it keeps busy are busy (the Utilization Law)."""
    return 1000 * cores(wiring, model_ms, rps) / cpu_ms(wiring, model_ms)


def capacity_interval(wiring: Wiring, model: Model) -> tuple[float, float]:
    """Capacity through the low ends of the measured intervals at the dearer end of the
    model's, and through the high ends at its cheaper end."""
    low = capacity(wiring, model.ms_interval[1], [p.rps_interval[0] for p in wiring.points])
    high = capacity(wiring, model.ms_interval[0], [p.rps_interval[1] for p in wiring.points])
    return low, high


def p99_ms(wiring: Wiring, model_ms: float, rate: float) -> float:
    """The p99 at `rate` on one machine: the low-load latency, plus the M/M/c wait (its servers
    the cores the wiring keeps busy, each as fast as they were)."""
    cost, busy = cpu_ms(wiring, model_ms), cores(wiring, model_ms)
    servers = max(1, round(busy))
    wait = wait_quantile_ms(servers, cost * servers / busy, rate, QUANTILE)
    return low_load_ms(wiring, model_ms) + wait


def memory_bytes(wiring: Wiring, ours: Model, theirs: Model) -> int:
    """Measured serving ChurnLab's model, grown by the difference in each process holding one."""
    return wiring.memory_bytes + wiring.model_copies * (theirs.memory_bytes - ours.memory_bytes)


def nodes_needed(wiring: Wiring, ours: Model, theirs: Model, target: Target) -> int | None:
    """The fewest machines like this one that serve the rate within the SLO, each taking an
    equal share; None if even MAX_NODES do not (the model alone is slower than the SLO), or
    the deployment does not fit one machine's memory budget."""
    if target.memory_bytes is not None and memory_bytes(wiring, ours, theirs) > target.memory_bytes:
        return None
    for nodes in range(1, MAX_NODES + 1):
        if p99_ms(wiring, theirs.ms, target.rate / nodes) <= target.slo_ms:
            return nodes
    return None


def extrapolated(wirings: dict[str, Wiring], model: Model) -> bool:
    """Whether the model's cost lies outside the costs the wirings were measured with."""
    costs = [point.model_ms for wiring in wirings.values() for point in wiring.points]
    return not min(costs) <= model.ms <= max(costs)


def judge(wirings: dict[str, Wiring], ours: Model, theirs: Model, target: Target) -> dict:
    """Each wiring's figures with the user's model, and the wiring chosen: of those that serve
    the target on the fewest machines, the one costing the least CPU per request."""
    rows = {}
    for name, wiring in wirings.items():
        low, high = capacity_interval(wiring, theirs)
        rows[name] = {
            "cpu_ms_per_request": round(cpu_ms(wiring, theirs.ms), 3),
            "capacity_rps": round(capacity(wiring, theirs.ms), 1),
            "capacity_rps_interval": [round(low, 1), round(high, 1)],
            "capacity_rps_batched": round(capacity(wiring, theirs.batched_ms), 1)
            if theirs.batched_ms is not None
            else None,
            "p99_ms_at_rate": _finite(p99_ms(wiring, theirs.ms, target.rate)),
            "memory_bytes": memory_bytes(wiring, ours, theirs),
            "nodes_for_rate": nodes_needed(wiring, ours, theirs, target),
            "cpu_ms_per_model_ms": round(
                cpu_ms(wiring, 1.0) - cpu_ms(wiring, 0.0), 3
            ),  # 1: the model's cost and nothing more
        }
    serving = [name for name, row in rows.items() if row["nodes_for_rate"] is not None]
    chosen = min(
        serving,
        key=lambda name: (rows[name]["nodes_for_rate"], rows[name]["cpu_ms_per_request"]),
        default=None,
    )
    return {"wirings": rows, "chosen": chosen, "extrapolated": extrapolated(wirings, theirs)}


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 2)
