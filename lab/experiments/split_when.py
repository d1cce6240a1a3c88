"""The verdict, line by line: each reason to split, or not, beside the figure this run measured
for it and the experiment that measured it. A reason whose experiment did not run says so,
rather than borrowing a figure from another run."""

from __future__ import annotations

from collections import defaultdict

from lab.bench import hops
from lab.experiments import deploys
from lab.experiments.capacity import describe
from lab.experiments.plan import ARCHES, LABELS

INTRO = (
    "The verdict, line by line: each reason to split or not, beside what this run measured "
    "for it (a reason whose experiment did not run says so)."
)
HEADER = ["reason", "what this run measured", "from"]
BOUND = {"≥": "≥ ", "<": "< ", "?": "~"}  # a censored median reads as a bound (capacity.py)
NOT_MEASURED = "not measured in this run"
PREDICT = "/v1/predict"


def price(results: dict) -> str:
    """What a split costs on one host: capacity within the SLO, and CPU per prediction."""
    parts = []
    if "capacity" in results:
        capacity = results["capacity"]
        figures = [
            f"{LABELS[a]} {BOUND.get(capacity[a]['reads'], '')}"
            f"{capacity[a]['capacity_rps']['median']:g}/s"
            for a in ARCHES
            if capacity[a]["capacity_rps"]["median"] is not None
        ]
        parts.append("capacity within the SLO: " + ", ".join(figures))
    if "cost" in results:
        demand = {a: results["cost"][a]["single"]["total"] for a in ARCHES}
        figures = [f"{LABELS[a]} {demand[a]['ms_per_record']:.2f} ms" for a in ARCHES if demand[a]]
        if figures:
            parts.append("CPU per single prediction: " + ", ".join(figures))
    return "; ".join(parts) or NOT_MEASURED


def containment(results: dict) -> str:
    """Per wiring and fault, the worst share of single predictions answered over its runs,
    with the gateway's resilience on, and off where that ran."""
    if "faults" not in results:
        return NOT_MEASURED
    worst: dict[tuple[str, str, bool], float] = {}
    for run in results["faults"]:
        share = run.get("routes", {}).get(PREDICT, {}).get("success")
        if share is None:
            continue
        key = (run["deployment"], run["fault"], run["resilience"])
        worst[key] = min(share, worst.get(key, 1.0))
    by_wiring: dict[str, list[str]] = defaultdict(list)
    for (wiring, fault, resilience), share in worst.items():
        if resilience:
            off = worst.get((wiring, fault, False))
            without = "" if off is None else f" ({off:.1%} with the stage client's resilience off)"
            by_wiring[wiring].append(f"{fault} {share:.1%}{without}")
    if not by_wiring:
        return NOT_MEASURED
    return "single predictions answered during the fault, worst run: " + "; ".join(
        f"{LABELS[wiring]}: {', '.join(faults)}" for wiring, faults in by_wiring.items()
    )


def own_deploys(results: dict) -> str:
    return deploys.conclusion(results["deploys"]) if results.get("deploys") else NOT_MEASURED


def heavy_model(results: dict) -> str:
    """The microservices' share of the monolith's capacity at the heaviest model measured, and
    where the fitted lines put 80%."""
    if "model_cost" not in results:
        return NOT_MEASURED
    points = sorted(results["model_cost"]["points"], key=lambda p: p["model_us"])
    measured = [p for p in points if p["capacity_ratio"] is not None]
    if not measured:
        return NOT_MEASURED
    heaviest = measured[-1]
    crossover = results["model_cost"]["crossover"]
    where = (
        "no 80% crossing in sight"
        if crossover["model_us"] is None
        else f"80% at about {crossover['model_us'] / 1000:.1f} ms a prediction"
        + (" (extrapolated)" if crossover["extrapolated"] else "")
    )
    return (
        f"the microservices kept {heaviest['capacity_ratio']:.0%} of the monolith's capacity "
        f"at the heaviest model, {heaviest['model_us'] / 1000:.2f} ms a prediction "
        f"({measured[0]['capacity_ratio']:.0%} at {measured[0]['model_us'] / 1000:.2f} ms); "
        f"{where}"
    )


def stage_replicas(results: dict) -> str:
    """Each configuration's capacity on the same CPU set."""
    if "scaling" not in results:
        return NOT_MEASURED
    return "capacity within the SLO, requests/s: " + "; ".join(
        f"{LABELS[wiring]} as {run['configuration']} {describe(run)}"
        for wiring, runs in results["scaling"].items()
        for run in runs
    )


def hop_latency(results: dict) -> str:
    measured = results.get("hops", {})
    if "wirings" not in measured:
        return NOT_MEASURED
    untraced = {w: measured["wirings"][w]["untraced_latency_ms"]["mean"] for w in hops.WIRINGS}
    return (
        f"the hops add {untraced['micro'] - untraced['monolith']:.1f} ms to a prediction's mean "
        f"latency at {measured['rate']:g}/s ({untraced['micro']:.1f} against "
        f"{untraced['monolith']:.1f} ms, untraced)"
    )


# Each reason, and what decides it: the README's "a monolith, unless…" line by line.
REASONS = (
    ("stay in one process for throughput on one host", price, "capacity, cost"),
    ("split when a failing part must not take the rest down", containment, "faults"),
    ("split when the model must deploy on its own, failing no call", own_deploys, "deploys"),
    ("split when the model is heavy enough for the hops not to matter", heavy_model, "model_cost"),
    ("split when a stage needs replicas of its own", stage_replicas, "scaling"),
    ("split when a hop's latency is affordable", hop_latency, "hops"),
)


def rows(results: dict) -> list[list[str]]:
    return [[reason, figure(results), source] for reason, figure, source in REASONS]
