"""When do the microservices pay? Their overhead against the model's own cost per request.

The same comparison is run with heavier real models: neural networks on the same features
(python -m churnlab.ml --model mlp), wider ones costing more per prediction. Each model is
mounted into the monolith and the inference service in place of the one baked into their
images. For each, the overhead is the microservices' capacity over the monolith's, and their
p99 over the monolith's at one rate both sustain.

On one host a capacity is the CPU one request costs, inverted: 1 / capacity grows in a straight
line with the model's cost, from each deployment's own fixed cost per request. Fitting that line
for each deployment says where the microservices' capacity would reach 80% of the monolith's,
even when no model measured is heavy enough to get there (the result then says it is
extrapolated).
"""

from __future__ import annotations

import time
from pathlib import Path

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.inference import ChurnModel
from churnlab.domain.schema import CustomerRecord
from churnlab.ml.train import ModelSpec
from lab.bench.model_range import trained
from lab.experiments.plan import PAIR


def network_model(width: int) -> Path:
    """The neural network of this width (two hidden layers), trained once, under models/."""
    return trained(ModelSpec("mlp", width=width))


def inference_microseconds(model_dir: Path, record: dict, calls: int = 500) -> float:
    """What the model alone costs per single prediction, in this process."""
    model = ChurnModel.load(model_dir)
    features = prepare_features(records_to_columns([CustomerRecord.model_validate(record)]))
    model.predict(features)
    started = time.perf_counter()
    for _ in range(calls):
        model.predict(features)
    return round((time.perf_counter() - started) / calls * 1e6, 1)


def overhead(monolith: dict, micro: dict) -> dict:
    """The microservices against the monolith for one model: capacities, and their ratios of
    capacity and of p99."""
    ratio = micro["capacity_rps"] / monolith["capacity_rps"] if monolith["capacity_rps"] else None
    p99 = (
        micro["p99_ms"] / monolith["p99_ms"]
        if micro.get("p99_ms") and monolith.get("p99_ms")
        else None
    )
    return {
        "monolith_rps": monolith["capacity_rps"],
        "micro_rps": micro["capacity_rps"],
        "capacity_ratio": round(ratio, 3) if ratio is not None else None,
        "p99_ratio": round(p99, 2) if p99 is not None else None,
    }


def crossover(points: list[dict], threshold: float = 0.8) -> dict:
    """From which model cost (µs per prediction) the microservices keep at least `threshold`
    of the monolith's capacity: the cheapest measured model that does, or else where the two
    fitted lines of 1 / capacity against model cost say it would."""
    paying = sorted(
        p["model_us"] for p in points if p["capacity_ratio"] and p["capacity_ratio"] >= threshold
    )
    if paying:
        return {"model_us": paying[0], "extrapolated": False}
    lines = {
        arch: _line([(p["model_us"], 1 / p[f"{arch}_rps"]) for p in points if p[f"{arch}_rps"]])
        for arch in PAIR
    }
    if None in lines.values():
        return {"model_us": None, "extrapolated": True}
    (slope_monolith, base_monolith), (slope_micro, base_micro) = lines["monolith"], lines["micro"]
    # capacity ratio = (base_monolith + slope_monolith m) / (base_micro + slope_micro m) = threshold
    denominator = slope_monolith - threshold * slope_micro
    if denominator <= 0:
        return {"model_us": None, "extrapolated": True}
    return {
        "model_us": round((threshold * base_micro - base_monolith) / denominator, 1),
        "extrapolated": True,
    }


def _line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares (slope, intercept); None with fewer than two distinct costs."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(y for _, y in points) / len(points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)
    return slope, mean_y - slope * mean_x
