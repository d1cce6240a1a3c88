"""`make compare`: both deployments, the same experiments, one machine, one report.

    python -m lab.experiments            # about 25 minutes
    python -m lab.experiments --quick    # about 6 minutes: fewer steps, runs and faults

Writes reports/results.json (its schema: lab/experiments/results.schema.json),
reports/summary.md and reports/compare.html. Needs Docker: the faults are container faults,
and the budgets are CPU sets and memory limits of containers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.experiments import model_cost
from lab.experiments.budget import Budget
from lab.experiments.capacity import latency_curve
from lab.experiments.cost import steady_cost
from lab.experiments.failures import RESILIENCE_OFF, Fault, fault_run
from lab.experiments.loops import closed_and_open
from lab.experiments.report import write_reports
from lab.experiments.scaling import (
    MICRO_SPLITS,
    Configuration,
    apply,
    monolith_replicas,
    scale,
)
from lab.machine import machine
from lab.stats import spread
from runtimes.compose import ComposeDeployment, compose_deployment
from runtimes.http import wait_ready

FAULTS = (
    Fault("monolith", "monolith", "kill"),
    Fault("monolith", "monolith", "pause"),
    Fault("monolith", "monolith", "cpu"),
    Fault("micro", "gateway", "kill"),
    Fault("micro", "gateway", "kill-while-spooling"),
    Fault("micro", "ingest", "kill"),
    Fault("micro", "ingest", "pause"),
    Fault("micro", "features", "pause"),
    Fault("micro", "features", "blackhole"),
    Fault("micro", "features", "crashloop"),
    Fault("micro", "inference", "kill"),
    Fault("micro", "inference", "pause"),
)
# Run again with the gateway's resilience off: where retries, breaker, ejection or spool act.
WITHOUT_RESILIENCE = {"pause ingest", "pause features", "blackhole features", "kill inference"}


@dataclass(frozen=True)
class Plan:
    repeats: int  # of the headline capacity curve
    rates: tuple[float, ...]  # offered requests/s, stepped past saturation
    step_seconds: float
    settle_seconds: float
    slo_ms: float
    loop_users: int  # closed-loop users of the closed/open pair
    loop_seconds: float
    cost_rate: float  # the steady rate CPU and memory are measured at
    cost_seconds: float
    fault_rate: float
    fault_phases: tuple[float, float, float]  # before, during, after
    faults: tuple[str, ...]  # labels of FAULTS
    without_resilience: tuple[str, ...]
    # Scaling beyond the deployments' own configuration (whose capacity is the headline one):
    monolith_replicas: tuple[int, ...]
    micro_splits: tuple[str, ...]  # names of scaling.MICRO_SPLITS
    network_widths: tuple[int, ...]  # heavier models for the model-cost experiment


PLANS = {
    "full": Plan(
        repeats=3,
        rates=(10, 25, 50, 75, 100, 150, 200, 300, 400, 600),
        step_seconds=4,
        settle_seconds=1.5,
        slo_ms=250,
        loop_users=16,
        loop_seconds=10,
        cost_rate=50,
        cost_seconds=10,
        fault_rate=40,
        fault_phases=(3, 6, 6),
        faults=tuple(f.label for f in FAULTS),
        without_resilience=tuple(sorted(WITHOUT_RESILIENCE)),
        monolith_replicas=(2, 3),
        micro_splits=("2 inference", "2 gateways"),
        network_widths=(1024, 2048),
    ),
    "quick": Plan(
        repeats=1,
        rates=(10, 25, 50, 100, 300),  # from 10, as in full: a slow machine's micro is below 25
        step_seconds=2.5,
        settle_seconds=1,
        slo_ms=250,
        loop_users=8,
        loop_seconds=4,
        cost_rate=40,
        cost_seconds=4,
        fault_rate=30,
        # The fault lasts 5 s: longer than the gateway's ingest timeout (2.5 s), or a paused
        # ingest only delays predictions, and resilience off would look as good as on.
        fault_phases=(2, 5, 3),
        faults=("kill monolith", "pause ingest", "kill inference"),
        without_resilience=("pause ingest",),
        monolith_replicas=(2,),
        micro_splits=("2 gateways",),
        network_widths=(1024,),
    ),
}


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"==> [{time.monotonic() - _STARTED:4.0f} s] {message}", flush=True)


def restore(
    deployment: ComposeDeployment,
    replicas: dict[str, int] | None = None,
    environment: dict[str, str] | None = None,
) -> None:
    """Back to the deployment's own configuration (or these replicas and settings) after an
    experiment or a fault changed it, and ready."""
    for name in (*RESILIENCE_OFF, "MONOLITH_CPUS", "MONOLITH_MEMORY", "MONOLITH_WORKERS"):
        deployment.environment.pop(name, None)
    deployment.environment |= environment or {}
    apply(deployment, Configuration("restored", replicas or {}))
    wait_ready(deployment.url)


def run(plan: Plan, out: Path, command: str) -> dict:
    budget = Budget.for_this_machine()
    raw = out / "raw"
    curve = {
        "step_seconds": plan.step_seconds,
        "settle_seconds": plan.settle_seconds,
        "slo_ms": plan.slo_ms,
    }
    results: dict = {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "budget": budget.describe(),
        "plan": asdict(plan),
        "capacity": {},
        "cost": {},
        "loops": None,
        "scaling": {},
        "faults": [],
        "model_cost": {"models": {}},
    }
    networks = {
        f"neural network, width {width}": model_cost.network_model(width)
        for width in plan.network_widths
    }
    baked = "logistic regression"  # the model in the images: its curve is the headline one
    for arch in ("monolith", "micro"):
        project = f"churnlab-compare-{arch}"
        with compose_deployment(arch, project=project, **budget.environment()) as deployment:
            log(f"{arch}: latency against offered load, {plan.repeats} run(s)")
            curves = [
                latency_curve(
                    deployment, raw / arch / f"curve-{run}.csv", budget, rates=plan.rates, **curve
                )
                for run in range(plan.repeats)
            ]
            results["capacity"][arch] = {
                "runs": curves,
                "capacity_rps": spread([c["capacity_rps"] for c in curves], 1),
            }
            log(f"{arch}: cost at {plan.cost_rate:g} requests/s, {plan.repeats} run(s)")
            costs = [
                steady_cost(
                    deployment,
                    raw / arch / f"cost-{run}.csv",
                    budget,
                    rate=plan.cost_rate,
                    seconds=plan.cost_seconds,
                )
                for run in range(plan.repeats)
            ]
            results["cost"][arch] = summarise_costs(costs)
            if arch == "monolith":
                log("monolith: closed loop against open loop")
                results["loops"] = closed_and_open(
                    deployment,
                    raw / arch / "loops",
                    budget,
                    users=plan.loop_users,
                    seconds=plan.loop_seconds,
                    settle_seconds=plan.settle_seconds,
                )
            results["faults"] += run_faults(deployment, plan, raw / arch, budget)
            log(f"{arch}: scaling on one host")
            configurations = (
                [monolith_replicas(n, budget_cpus(budget)) for n in plan.monolith_replicas]
                if arch == "monolith"
                else [split for split in MICRO_SPLITS if split.name in plan.micro_splits]
            )
            own = (
                monolith_replicas(1, budget_cpus(budget)) if arch == "monolith" else MICRO_SPLITS[0]
            )
            results["scaling"][arch] = [
                {
                    "configuration": own.name,
                    "replicas": own.replicas,
                    "capacity_rps": curves[0]["capacity_rps"],
                    "generator": curves[0]["generator"],
                },
                *scale(deployment, raw / arch, budget, configurations, rates=plan.rates, **curve),
            ]
            results["model_cost"]["models"].setdefault(baked, {})[arch] = model_figures(curves[0])
            for name, model_dir in networks.items():
                log(f"{arch}: model cost, {name}")
                results["model_cost"]["models"].setdefault(name, {})[arch] = measure_model(
                    deployment, model_dir, raw / arch / f"model-{name}.csv", budget, plan, curve
                )
    results["model_cost"] |= model_cost_summary(
        results["model_cost"]["models"], {baked: None} | networks
    )
    results["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return results


def summarise_costs(runs: list[dict]) -> dict:
    """Repeated cost runs as medians with their spread."""
    return {
        "runs": runs,
        "offered_rps": runs[0]["offered_rps"],
        "containers": runs[0]["containers"],
        **{
            key: spread([run[key] for run in runs], 3)
            for key in ("cpu_seconds_per_1000_predictions", "memory_mb", "p99_ms")
        },
    }


def budget_cpus(budget: Budget) -> int:
    return (os.cpu_count() or 1) - (0 if budget.shared else budget.generator_cpu_count)


def run_faults(deployment: ComposeDeployment, plan: Plan, out: Path, budget: Budget) -> list:
    """Every planned fault of this deployment, each from a fresh start, and again with the
    gateway's resilience off where planned. The microservices run two inference replicas here,
    so that a lost replica can be survived."""
    replicas = {"inference": 2} if deployment.file == "micro" else {}
    outcomes = []
    for resilience, switches in ((True, {}), (False, RESILIENCE_OFF)):
        planned = plan.faults if resilience else plan.without_resilience
        for fault in (f for f in FAULTS if f.deployment == deployment.file and f.label in planned):
            log(f"{deployment.file}: {fault.label}, resilience {resilience}")
            restore(deployment, replicas, switches)
            before, during, after = plan.fault_phases
            outcome = fault_run(
                deployment,
                out / ("on" if resilience else "off"),
                budget,
                fault,
                rate=plan.fault_rate,
                before=before,
                during=during,
                after=after,
            )
            outcomes.append({"deployment": deployment.file, "resilience": resilience, **outcome})
    restore(deployment)
    return outcomes


def measure_model(
    deployment: ComposeDeployment,
    model_dir: Path,
    log: Path,
    budget: Budget,
    plan: Plan,
    curve: dict,
) -> dict:
    """The model at `model_dir` served by this deployment: its latency curve. The deployment
    keeps serving it (the experiment is the last of each deployment's)."""
    deployment.overrides = [model_cost.override(deployment.file)]
    deployment.environment["CHURNLAB_MODEL_HOST_DIR"] = str(model_dir)
    restore(deployment)
    return model_figures(latency_curve(deployment, log, budget, rates=plan.rates, **curve))


def model_figures(measured: dict) -> dict:
    return {
        "capacity_rps": measured["capacity_rps"],
        "p99_ms": measured["steps"][0]["p99_ms"],  # at the lowest rate, which both sustain
        "generator": measured["generator"],
    }


def model_cost_summary(measured: dict, models: dict) -> dict:
    from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
    from runtimes.paths import ROOT

    record = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")[0]
    points = []
    for name, model_dir in models.items():
        per_arch = measured[name]
        points.append(
            {
                "model": name,
                "model_us": model_cost.inference_microseconds(
                    model_dir or ROOT / "models" / "current", record
                ),
                **model_cost.overhead(per_arch["monolith"], per_arch["micro"]),
            }
        )
    return {"points": points, "crossover": model_cost.crossover(points)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short form, for tests")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    command = "make compare" + (" QUICK=1" if args.quick else "")
    results = run(PLANS["quick" if args.quick else "full"], args.out, command)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_reports(results, args.out)
    print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
