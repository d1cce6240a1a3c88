"""The generator proves itself: a capacity trial's own calls, at each rate, sent to the edge's
null endpoint (HAProxy answers them at once, without the app), so that the run measures the
generator and the edge alone. A rate the generator holds there (on schedule, at most 1% of calls
late, its CPU under 90%) is one its trials against a deployment can
be read at; the first it cannot hold bounds every capacity the lab reports.

The endpoint is switched on for the lab's deployments only (EDGE_NULL_ENDPOINT=1), on the
loopback edge they already publish.
"""

from __future__ import annotations

from pathlib import Path

from lab.experiments.budget import Budget
from lab.experiments.capacity import Method, Serving, trial

NULL_PREFIX = "/lab/null"  # edge/haproxy.cfg answers any call under it with an empty 200


def calibrate(
    deployment: Serving, out: Path, budget: Budget, method: Method, rates: tuple[float, ...]
) -> list[dict]:
    """One trial of `method` at each rate against the null endpoint, in rising order."""
    return [
        trial(deployment, out / f"null-{rate:g}.csv", budget, method, rate, path_prefix=NULL_PREFIX)
        for rate in sorted(rates)
    ]


def held(step: dict) -> bool:
    """The generator kept its schedule and the edge answered within the SLO: a step whose
    calls reached the app (no null endpoint there) is no calibration."""
    return step["generator"]["valid"] and step["verdict"] == "pass"


def held_up_to(calibration: list[dict]) -> float | None:
    """The highest rate the generator held with every lower one held too; None when it could
    not hold the lowest."""
    best = None
    for step in sorted(calibration, key=lambda s: s["offered_rps"]):
        if not held(step):
            break
        best = step["offered_rps"]
    return best
