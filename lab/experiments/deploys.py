"""Deploys under load: a new model version rolled out in each wiring, and a model that does not
load.

Each wiring replaces what serves its model, as `make rollout` does (runtimes/rollout.py): the
monolith all of itself, the split wirings their model tier alone. New replicas start beside the
old ones and the old ones retire once the new are healthy. Steady open-loop load runs throughout,
at the faults' share of each wiring's capacity (their absolute rate without one). Measured for
each rollout: the calls that failed while it ran, per route (its blast radius), the predictions'
p99 then against before it, how long it took, and which version answers after it. A model that
does not load never gets healthy replicas: the rollout is refused, and what failed meanwhile is
its blast radius. Calls count from the rollout's start until the edge and the gateways have
seen its last change (FOUND_SECONDS after its end); a rollout whose window ends within a
call's longest time of the load's end is not a figure.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import requests

from churnlab.ml.train import ModelSpec
from lab.bench.model_range import trained
from lab.experiments.analysis import (
    accepted_records,
    blast_radius,
    latency_by_route,
    success_by_route,
    timeline,
    window,
)
from lab.experiments.budget import Budget, generator_check
from lab.experiments.failures import during_load, records_lost
from lab.experiments.plan import NEW, UNLOADABLE
from lab.load.locust import DRAIN_SECONDS
from runtimes.compose import ComposeDeployment
from runtimes.paths import ROOT
from runtimes.rollout import FOUND_SECONDS, MODEL_SERVICE, RolloutError, roll_out

# A second version of about the logistic regression's cost (0.05 ms a record against 0.04):
# what changes in a rollout is the deploy, not the work per call.
NEW_VERSION = ModelSpec("mlp", width=256)


def unloadable_model(directory: Path) -> Path:
    """The current model's card over a model file that is not ONNX, in `directory`, readable by
    the containers' own user as a model directory must be."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    shutil.copy(ROOT / "models" / "current" / "model_card.json", directory)
    (directory / "model.onnx").write_bytes(b"not a model")
    return directory


def model_dirs() -> dict[str, Path]:
    """Each deploy's model: the new version (trained once, under models/), and one that does
    not load, under build/ (a report's directory may be closed to the containers' user)."""
    return {NEW: trained(NEW_VERSION), UNLOADABLE: unloadable_model(ROOT / "build" / "unloadable")}


def deploy_run(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    model_dir: Path,
    *,
    rate: float,
    before: float,
    seconds: float,
    wait_seconds: int,
) -> dict:
    """Steady open-loop load for `seconds`; after `before`, the model rolled out."""

    def deploy() -> dict:
        started = time.time()
        try:
            rollout = roll_out(
                deployment, MODEL_SERVICE[deployment.file], model_dir=model_dir,
                wait_seconds=wait_seconds,
            )  # fmt: skip
        except RolloutError:
            return {"started": started, "ended": time.time(), "refused": True}
        return {"started": started, "healthy": rollout.healthy, "ended": rollout.finished}

    run, done = during_load(
        deployment, out / f"deploy-{model_dir.name}.csv", budget, deploy,
        rate=rate, before=before, seconds=seconds,
    )  # fmt: skip
    if "error" in done:
        return {"error": done["error"]}
    first, last = min(r.time for r in run.requests), max(r.time for r in run.requests)
    # Counted until every caller has seen the last change: a call a retired replica still
    # drew fails after the rollout's own end.
    started, ended = done["started"], done["ended"] + FOUND_SECONDS
    if ended + DRAIN_SECONDS > last:  # a call due at the window's end must have had its time
        return {
            "error": f"the load ended {last - ended:.1f} s after the rollout's window, under the "
            f"{DRAIN_SECONDS:g} s a call may take: lengthen the load"
        }
    during = window(run.requests, started, ended)
    routes = success_by_route(during)
    return {
        "refused": done.get("refused", False),
        "seconds": round(done["ended"] - started, 1),
        "healthy_after_s": round(done["healthy"] - started, 1) if "healthy" in done else None,
        "routes": routes,
        "blast_radius": blast_radius(routes),
        "failed": sum(not r.ok for r in during),
        "failed_in_run": sum(not r.ok for r in run.requests),
        "latency_before": latency_by_route(window(run.requests, first, started)),
        "latency_during": latency_by_route(during),
        "version_after": requests.get(f"{deployment.url}/v1/model", timeout=5).json()["version"],
        "records_lost": records_lost(deployment, accepted_records(run.requests)),
        "timeline": timeline(run.requests, first),
        "window_s": [round(started - first, 2), round(ended - first, 2)],
        "generator": generator_check(run, budget),
    }


INTRO = (
    "Each wiring replaced what serves its model under steady open-loop load (the faults' share "
    "of each one's capacity, or their absolute rate where the run measured none: offered/s "
    "says which): the monolith all of itself, the split wirings their model tier. New "
    "replicas start beside the old ones, which retire once the new are healthy (make rollout). "
    "A model that does not load is refused; what failed meanwhile is its blast radius. Calls "
    f"count from a rollout's start to {FOUND_SECONDS:g} s after its end, when every caller has "
    "seen its last change. A p99 is quoted from 1,000 calls or more (n/a below)."
)
HEADER = [
    "deploy",
    "wiring",
    "offered/s",
    "took (s)",
    "failed while it ran",
    "routes hurt",
    "single p99 before / during (ms)",
    "serving after",
    "records lost",
]


def due(run: dict) -> int:
    """The calls due while a rollout ran, over every route."""
    return sum(route["intended"] for route in run["routes"].values())


def rows(deploys: list[dict]) -> list[list[str]]:
    """A row per rollout run, in the order they ran."""
    found = []
    for run in deploys:
        if "error" in run:
            found.append([run["deploy"], run["deployment"], "", "", run["error"], "", "", "", ""])
            continue
        p99 = [
            run[phase].get("/v1/predict", {}).get("p99_ms")
            for phase in ("latency_before", "latency_during")
        ]
        refused = " (refused)" if run["refused"] else ""
        found.append(
            [
                run["deploy"],
                run["deployment"],
                f"{run['offered_rps']:g}",
                f"{run['seconds']:g}{refused}",
                f"{run['failed']} of {due(run)}",
                ", ".join(run["blast_radius"]) or "none",
                " / ".join("n/a" if value is None else f"{value:g}" for value in p99),
                run["version_after"],
                str(run["records_lost"]),
            ]
        )
    return found


def conclusion(deploys: list[dict]) -> str:
    """Per deploy, each wiring's failed calls and time taken, over its runs."""
    parts = []
    for deploy in dict.fromkeys(run["deploy"] for run in deploys):
        wirings = []
        for arch in dict.fromkeys(run["deployment"] for run in deploys):
            runs = [r for r in deploys if (r["deploy"], r["deployment"]) == (deploy, arch)]
            done = [r for r in runs if "error" not in r]
            if not done:
                wirings.append(f"{arch} not measured")
                continue
            failed = sum(r["failed"] for r in done)
            intended = sum(map(due, done))
            took = "/".join(f"{r['seconds']:g}" for r in done)  # a figure per run
            refused = ", refused" if all(r["refused"] for r in done) else ""
            wirings.append(f"{arch} failed {failed} of {intended} calls in {took} s{refused}")
        parts.append(f"Rolling out {deploy} under load: " + "; ".join(wirings))
    return ". ".join(parts) + "."
