"""The verdict for one model: which wiring serves a target rate within a p99 objective and a
memory budget, on this machine and at N such machines, from each wiring measured serving two
models of different cost and the user's model measured alone.

What is measured: each wiring's CPU per request, requests a second, latency at low load and
memory, serving ChurnLab's logistic regression and a network some sixty to eighty times dearer;
each of those models' cost and memory alone, and the user's. What is drawn between them:
straight lines in the model's cost, of CPU per request, of the cores kept busy and of low-load
latency, and one in the model's memory of the wiring's; the user's model is read off them,
interpolated between the two models measured or extrapolated past them (said so). Its capacity
is the cores over the CPU (the Utilization Law), its p99 an M/M/c queue's at the target rate
(queueing.py). N machines are N copies, each taking 1/N of the rate: a model, never measured
here past one machine. Two points make each line exact: that cost grows linearly between them
is assumed, not tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.verdict.queueing import response_quantile_ms

QUANTILE = 0.99
MAX_NODES = 1000
# Requests a model process can join into one call with batching on and no gather wait: of its
# 4 threads (churnlab/gunicorn_conf.py), one's request is being scored while at most 3 queue
# for the next call; 2 is the largest batch size measured (powers of two) within that.
BATCH_BOUND = 2


@dataclass(frozen=True)
class Point:
    """One wiring measured serving one model: medians, with the intervals of the two the
    capacity is drawn from."""

    model_ms: float  # the model's own cost per record, measured alone
    cpu_ms: float  # every process's CPU per request, the edge's included
    rps: float  # requests a second served at its most
    rps_interval: tuple[float, float]
    low_load_ms: float  # a request's median latency with nothing else in flight
    memory_bytes: int  # every process's resident memory, serving
    model_memory_bytes: int  # what the model's session held, measured alone


@dataclass(frozen=True)
class Wiring:
    points: tuple[Point, ...]  # two or more model costs
    # The least share of the model's cost a request pays: 1, unless batching shared calls
    # (1 / the most requests a call scored on average at any point measured).
    least_model_share: float = 1.0


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


def _along(
    points: tuple[Point, ...], values: list[float], model_ms: float, least_slope: float = -math.inf
) -> float:
    """The least-squares line of `values` against the models' costs, read at `model_ms`; its
    slope raised to `least_slope` where noise between close costs drew it lower (the line then
    kept through the points' mean)."""
    xs = [point.model_ms for point in points]
    slope, intercept = np.polyfit(xs, values, 1)
    if slope < least_slope:
        slope, intercept = least_slope, float(np.mean(values)) - least_slope * float(np.mean(xs))
    return float(slope * model_ms + intercept)


def cpu_ms(wiring: Wiring, model_ms: float) -> float:
    """CPU per request serving a model of this cost: growing at least by the share of the
    model's cost each request pays (all of it, since every request runs the model once, unless
    batching was seen to share calls)."""
    values = [p.cpu_ms for p in wiring.points]
    return _along(wiring.points, values, model_ms, least_slope=wiring.least_model_share)


def low_load_ms(wiring: Wiring, model_ms: float) -> float:
    """A request's latency with nothing else in flight, the model's cost at least in it."""
    return _along(wiring.points, [p.low_load_ms for p in wiring.points], model_ms, 1.0)


def cores(wiring: Wiring, model_ms: float, rps: list[float] | None = None) -> float:
    """The cores the wiring kept busy at its most (requests a second x CPU per request), along
    the models' costs, within the least and most it was seen to use."""
    served = rps or [point.rps for point in wiring.points]
    used = [rate * point.cpu_ms / 1000 for rate, point in zip(served, wiring.points, strict=True)]
    return min(max(_along(wiring.points, used, model_ms), min(used)), max(used))


def capacity(wiring: Wiring, model_ms: float, rps: list[float] | None = None) -> float:
    """Requests a second at which the cores it keeps busy are busy (the Utilization Law)."""
    return 1000 * cores(wiring, model_ms, rps) / cpu_ms(wiring, model_ms)


def capacity_interval(wiring: Wiring, model: Model) -> tuple[float, float]:
    """An envelope, not an interval of stated coverage: capacity through the low ends of the
    requests a second measured at the dearer end of the model's cost, and through the high ends
    at its cheaper end."""
    low = capacity(wiring, model.ms_interval[1], [p.rps_interval[0] for p in wiring.points])
    high = capacity(wiring, model.ms_interval[0], [p.rps_interval[1] for p in wiring.points])
    return low, high


def p99_ms(wiring: Wiring, model_ms: float, rate: float) -> float:
    """The p99 at `rate` on one machine, as an M/M/c queue: its servers the cores the wiring
    keeps busy (rounded down and up, the worse taken), each serving a request in the CPU it
    costs, plus the path's own delay (what the low-load median has beyond a service's)."""
    cost, busy = cpu_ms(wiring, model_ms), cores(wiring, model_ms)
    quoted = []
    for servers in {max(1, math.floor(busy)), max(1, math.ceil(busy))}:
        service_ms = cost * servers / busy
        delay = max(0.0, low_load_ms(wiring, model_ms) - math.log(2) * service_ms)
        quoted.append(delay + response_quantile_ms(servers, service_ms, rate, QUANTILE))
    return max(quoted)


def memory_bytes(wiring: Wiring, theirs: Model) -> int:
    """The wiring's memory serving a model that holds this much, along the line through what
    it was measured holding serving each model."""
    held = [point.model_memory_bytes for point in wiring.points]
    if len(set(held)) < 2:
        return wiring.points[0].memory_bytes + theirs.memory_bytes - held[0]
    slope, intercept = np.polyfit(held, [point.memory_bytes for point in wiring.points], 1)
    return round(slope * theirs.memory_bytes + intercept)


def nodes_needed(wiring: Wiring, theirs: Model, target: Target) -> int | None:
    """The fewest machines like this one that serve the rate within the SLO, each taking an
    equal share; None if even MAX_NODES do not (the model alone is slower than the SLO), or
    the deployment does not fit one machine's memory budget."""
    if target.memory_bytes is not None and memory_bytes(wiring, theirs) > target.memory_bytes:
        return None
    for nodes in range(1, MAX_NODES + 1):
        if p99_ms(wiring, theirs.ms, target.rate / nodes) <= target.slo_ms:
            return nodes
    return None


def extrapolated(wirings: dict[str, Wiring], model: Model) -> bool:
    """Whether the model's cost lies outside the costs the wirings were measured with."""
    costs = [point.model_ms for wiring in wirings.values() for point in wiring.points]
    return not min(costs) <= model.ms <= max(costs)


def judge(
    wirings: dict[str, Wiring],
    theirs: Model,
    target: Target,
    batched: dict[str, Wiring] | None = None,
) -> dict:
    """Each wiring's figures with the user's model, and the wiring chosen: of those that serve
    the target on the fewest machines, the one costing the least CPU per request. With batching
    measured (`batched`: the wirings with it on), the capacity with batching is read off its
    lines at the user's model's cost alone; else it is estimated from the user's model's cost
    within a batch of BATCH_BOUND."""
    rows = {}
    for name, wiring in wirings.items():
        low, high = capacity_interval(wiring, theirs)
        if batched:
            with_batching: float | None = capacity(batched[name], theirs.ms)
        elif theirs.batched_ms is not None:
            with_batching = capacity(wiring, theirs.batched_ms)
        else:
            with_batching = None
        rows[name] = {
            "cpu_ms_per_request": round(cpu_ms(wiring, theirs.ms), 3),
            "capacity_rps": round(capacity(wiring, theirs.ms), 1),
            "capacity_rps_interval": [round(low, 1), round(high, 1)],
            "capacity_rps_batched": round(with_batching, 1) if with_batching else None,
            "p99_ms_at_rate": _finite(p99_ms(wiring, theirs.ms, target.rate)),
            "memory_bytes": memory_bytes(wiring, theirs),
            "nodes_for_rate": nodes_needed(wiring, theirs, target),
            "cores_busy": round(cores(wiring, theirs.ms), 2),
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
    return {
        "wirings": rows,
        "chosen": chosen,
        "extrapolated": extrapolated(wirings, theirs),
        "batching_measured": bool(batched),
    }


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 2)
