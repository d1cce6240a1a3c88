"""`make compare`: both deployments, the same experiments, one machine, one report.

    python -m lab.experiments                      # the full plan
    python -m lab.experiments --quick              # the short one, for CI: indicative only
    python -m lab.experiments --only capacity      # one experiment (or several, comma-separated)

Capacity comes first: `repeats` blocks, each with a fresh deployment of each architecture, in
alternating order (A B, B A, ...), so that the machine's drift over the run falls on both alike.
Every finished cell is kept (cells.py): an interrupted run, started again, resumes.

Writes reports/results.json (its schema: lab/experiments/results.schema.json),
reports/summary.md and reports/compare.html. Needs Docker: the faults are container faults,
and the budgets are CPU sets and memory limits of containers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from lab.bench import hops
from lab.experiments import deploys, model_cost
from lab.experiments.budget import UNLIMITED_EDGE, Budget
from lab.experiments.calibration import calibrate
from lab.experiments.capacity import capacity_search, summarise
from lab.experiments.cells import Cells
from lab.experiments.cost import cpu_regression, rates_for
from lab.experiments.crosscheck import crosscheck
from lab.experiments.failures import RESILIENCE_OFF, fault_run
from lab.experiments.loops import loop_cases
from lab.experiments.plan import (
    ARCHES,
    EXPERIMENTS,
    FAULTS,
    NEW,
    ONCE,
    PAIR,
    PLANS,
    RUNS_ON,
    Plan,
)
from lab.experiments.report import write_reports
from lab.experiments.scaling import (
    MICRO_SPLITS,
    SETTINGS,
    Configuration,
    apply,
    monolith_replicas,
    redundant,
)
from lab.load.locust import run_locust
from lab.load.mixes import calls_per_single
from lab.machine import machine
from lab.stats import ratio_interval, turn_order
from runtimes.compose import ComposeDeployment, compose_deployment
from runtimes.http import wait_ready
from runtimes.rollout import serve_baked_model, serve_model

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
    for name in (*RESILIENCE_OFF, *SETTINGS):
        deployment.environment.pop(name, None)
    deployment.environment |= environment or {}
    apply(deployment, Configuration("restored", replicas or {}))
    wait_ready(deployment.url)


def warm_up(deployment: ComposeDeployment, plan: Plan, budget: Budget, out: Path) -> None:
    """Single predictions at half the search's first rate for `warm_up_seconds`, unmeasured:
    caches, connection pools and the model's first calls warm before anything is read."""
    run_locust(
        deployment.url,
        out / "warm-up.csv",
        loop="open",
        shape="rates",
        seconds=plan.warm_up_seconds,
        cpus=budget.generator_cpus,
        rates=f"{plan.capacity.start / 2:g}",
        step_seconds=plan.warm_up_seconds,
        mix="single",
    )


@contextmanager
def fresh(arch: str, plan: Plan, budget: Budget, out: Path) -> Iterator[ComposeDeployment]:
    """A fresh deployment of `arch` on the plan's budget, warmed up, and down afterwards."""
    project = f"churnlab-compare-{arch}"
    with compose_deployment(
        arch, project=project, EDGE_NULL_ENDPOINT="1", **UNLIMITED_EDGE, **budget.environment()
    ) as deployment:
        warm_up(deployment, plan, budget, out)
        yield deployment


def run(plan: Plan, out: Path, command: str, only: tuple[str, ...], cells: Cells) -> dict:
    budget = Budget.for_this_machine()
    raw = out / "raw"
    results: dict = {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "budget": budget.describe(),
        "plan": asdict(plan),
        "experiments": list(only),
    }
    if "capacity" in only:
        results["capacity"] = capacity_blocks(plan, raw, budget, cells)
    for arch in ARCHES:
        results |= deployment_experiments(arch, plan, raw / arch, budget, cells, only, results)
    if "model_cost" in only:
        results["model_cost"] = model_cost_summary(results.pop("models"), plan)
    if "hops" in only:
        log("the hop tax, both wirings as local processes")
        results["hops"] = cells.get("hops", lambda: hop_tax(plan))
    results["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return results


def capacity_blocks(plan: Plan, raw: Path, budget: Budget, cells: Cells) -> dict:
    """`repeats` blocks; in each, a fresh deployment of each architecture searched for its
    capacity, in the block's order (stats.turn_order). Searches after the first start from the
    first's estimate. The monolith over each split wiring is read per block
    (stats.ratio_interval)."""
    searches: dict[str, list[dict]] = {arch: [] for arch in ARCHES}
    for block in range(plan.repeats):
        for arch in turn_order(ARCHES, block):
            earlier = searches[arch][0] if searches[arch] else None
            estimate = earlier["capacity_rps"] if earlier and not earlier["censored"] else None

            def search(arch: str = arch, block: int = block, estimate=estimate) -> dict:
                log(f"capacity, block {block + 1} of {plan.repeats}: {arch}, fresh deployment")
                with fresh(arch, plan, budget, raw / arch) as deployment:
                    return capacity_search(
                        deployment, raw / arch / f"capacity-{block + 1}", budget, plan.capacity,
                        estimate,
                    )  # fmt: skip

            searches[arch].append(cells.get(f"capacity-{block + 1}-{arch}", search))
    return {
        **{arch: summarise(searches[arch]) for arch in ARCHES},
        **{
            f"monolith_over_{split}": blocks_ratio(searches["monolith"], searches[split])
            for split in ARCHES[1:]
        },
    }


def blocks_ratio(searches: list[dict], others: list[dict]) -> dict | None:
    """The first's capacity over the other's, block by block, from the blocks where neither
    was censored (stats.ratio_interval); None without one."""
    uncensored = [
        (first["capacity_rps"], other["capacity_rps"])
        for first, other in zip(searches, others, strict=True)
        if not first["censored"] and not other["censored"]
    ]
    return ratio_interval(*zip(*uncensored, strict=True)) if uncensored else None


def deployment_experiments(
    arch: str, plan: Plan, raw: Path, budget: Budget, cells: Cells, only: tuple, results: dict
) -> dict:
    """Every other experiment of `only` on one deployment of `arch`, each kept as a cell; the
    deployment is stood up only when a cell is missing."""
    estimate, headline = None, None
    if "capacity" in results:
        headline = results["capacity"][arch]["runs"][0]
        if results["capacity"][arch]["reads"] == "=":
            estimate = results["capacity"][arch]["capacity_rps"]["median"]
    experiments = {
        "calibration": lambda d: calibrate(
            d, raw / "calibration", budget, plan.capacity, plan.calibration_rates
        ),
        "crosscheck": lambda d: generators_crosscheck(d, plan, raw, budget, estimate),
        "cost": lambda d: costs(d, plan, raw, budget, estimate),
        "loops": lambda d: loop_cases(
            d, raw / "loops", budget, users=plan.loop_users, share=plan.loop_share,
            think_seconds=plan.loop_think_seconds, seconds=plan.loop_seconds,
            settle_seconds=plan.settle_seconds,
        ),
        "faults": lambda d: run_faults(d, plan, raw, budget, estimate, measured.get("cost")),
        "scaling": lambda d: scaling(d, plan, raw, budget, estimate, headline),
        "model_cost": lambda d: model_costs(d, plan, raw, budget, headline),
        "deploys": lambda d: deploy_runs(d, plan, raw, budget, estimate),
    }  # fmt: skip
    wanted = [name for name in experiments if name in only and arch in RUNS_ON[name]]
    missing = [name for name in wanted if not cells.has(f"{name}-{arch}")]
    measured: dict = {}
    if missing:
        with fresh(arch, plan, budget, raw) as deployment:
            for name in wanted:
                log(f"{arch}: {name}")
                measured[name] = cells.get(
                    f"{name}-{arch}", lambda n=name: experiments[n](deployment)
                )
                restore(deployment)
    else:
        measured = {name: cells.get(f"{name}-{arch}", dict) for name in wanted}
    merged: dict = {}
    for name, value in measured.items():
        if name in ONCE:
            merged[name] = value
        elif name in ("faults", "deploys"):
            merged[name] = results.get(name, []) + value
        elif name == "model_cost":
            merged["models"] = results.get("models", {}) | {arch: value}
        else:
            merged[name] = results.get(name, {}) | {arch: value}
    return merged


def generators_crosscheck(
    deployment: ComposeDeployment, plan: Plan, raw: Path, budget: Budget, capacity: float | None
) -> dict:
    """Locust and httperf in turn, at shares of the capacity (or the plan's rates), or why it
    was not run."""
    if shutil.which("httperf") is None:
        return {"error": "no httperf here (scripts/install-tools.sh httperf)"}
    shares, fallback = plan.crosscheck_shares, plan.crosscheck_rates
    rates = tuple(round(capacity * s, 1) for s in shares) if capacity else fallback
    steps = crosscheck(
        deployment, raw / "crosscheck", budget, rates,
        seconds=plan.crosscheck_seconds, settle_seconds=plan.settle_seconds,
    )  # fmt: skip
    return {"steps": steps}


def costs(
    deployment: ComposeDeployment, plan: Plan, raw: Path, budget: Budget, capacity: float | None
) -> dict:
    """CPU per record by regression, for single predictions and for batches, then memory."""
    found = {
        mix: cpu_regression(
            deployment,
            raw,
            budget,
            mix=mix,
            rates=rates_for(capacity, plan.cost_shares, plan.cost_rates, mix),
            settle_seconds=plan.settle_seconds,
            seconds=plan.cost_seconds,
            calls=plan.cost_calls,
        )
        for mix in ("single", "batch")
    }
    return {
        **found,
        "memory_mb": round(deployment.memory_bytes() / 1e6, 1),
        "containers": len(deployment.containers()),
    }


def budget_cpus(budget: Budget) -> int:
    return (os.cpu_count() or 1) - (0 if budget.shared else budget.generator_cpu_count)


REPEATED_FAULTS = ("kill", "pause")  # what fails most: each run `fault_repeats` times


def fault_loads(plan: Plan, capacity: float | None, calls_per_single: float) -> dict[str, float]:
    """The rates faults are offered at: the same for every wiring (absolute) and, where this run
    measured the deployment's capacity, the same share of each one's (relative), in calls of
    the faults' own mix."""
    loads = {"absolute": plan.fault_rate}
    if capacity:
        loads["relative"] = round(plan.fault_share * capacity * calls_per_single, 1)
    return loads


def mix_factor(cost: dict | None) -> float | None:
    """Calls of the faults' mix (the API's) a single prediction's CPU pays for, from this run's
    CPU per record of singles and of batches; None without them (the capacity is then taken
    in single predictions, and the report says so)."""
    slopes = [((cost or {}).get(mix) or {}).get("total") or {} for mix in ("single", "batch")]
    return calls_per_single(*(slope.get("ms_per_record", 0.0) for slope in slopes))


def run_faults(
    deployment: ComposeDeployment,
    plan: Plan,
    out: Path,
    budget: Budget,
    capacity: float | None,
    cost: dict | None,
) -> list:
    """Every planned fault of this deployment, each from a fresh start, at each of its loads,
    kills and pauses `fault_repeats` times; again with the stage client's resilience off where
    planned (at the absolute load, once). All run with equal redundancy: the monolith as two
    replicas, the microservices with two of each stateless stage, the hybrid with two of each,
    in the same CPU set and memory, so that what survives a fault is the architecture's and not
    a spare replica's."""
    if not any(f.deployment == deployment.file and f.label in plan.faults for f in FAULTS):
        return []  # none planned in this wiring (the quick plan's)
    configuration = redundant(deployment.file, budget_cpus(budget))
    factor = mix_factor(cost)
    loads = fault_loads(plan, capacity, factor or 1.0)
    outcomes = []
    for resilience, switches in ((True, {}), (False, RESILIENCE_OFF)):
        planned = plan.faults if resilience else plan.without_resilience
        for fault in (f for f in FAULTS if f.deployment == deployment.file and f.label in planned):
            for load, rate in loads.items() if resilience else [("absolute", plan.fault_rate)]:
                repeats = plan.fault_repeats if resilience and fault.kind in REPEATED_FAULTS else 1
                for repeat in range(1, repeats + 1):
                    log(
                        f"{deployment.file}: {fault.label}, resilience {resilience}, "
                        f"{load} load {rate:g}/s, run {repeat} of {repeats}"
                    )
                    restore(
                        deployment, configuration.replicas, configuration.environment | switches
                    )
                    before, during, after = plan.fault_phases
                    outcome = fault_run(
                        deployment,
                        out / ("on" if resilience else "off") / f"{load}-{repeat}",
                        budget,
                        fault,
                        rate=rate,
                        before=before,
                        during=during,
                        after=after,
                    )
                    outcomes.append(
                        {
                            "deployment": deployment.file,
                            "resilience": resilience,
                            "replicas": configuration.replicas,
                            "load": load,
                            "offered_rps": rate,
                            "repeat": repeat,
                            **({"calls_per_single": factor} if load == "relative" else {}),
                            **outcome,
                        }
                    )
    restore(deployment)
    return outcomes


def deploy_runs(
    deployment: ComposeDeployment, plan: Plan, raw: Path, budget: Budget, capacity: float | None
) -> list[dict]:
    """Each planned deploy rolled out under load (deploys.py), each from the baked model, at
    the faults' share of this deployment's capacity (or their absolute rate, without one);
    the new version `deploy_repeats` times, a model that does not load once."""
    rate = round(plan.fault_share * capacity, 1) if capacity else plan.fault_rate
    before, seconds = plan.deploy_seconds
    models = deploys.model_dirs()
    runs = []
    try:
        for deploy in plan.deploys:
            repeats = plan.deploy_repeats if deploy == NEW else 1
            for repeat in range(1, repeats + 1):
                log(f"{deployment.file}: {deploy}, run {repeat} of {repeats}, {rate:g}/s")
                serve_baked_model(deployment)
                restore(deployment)
                outcome = deploys.deploy_run(
                    deployment, raw / "deploys" / f"{repeat}", budget, models[deploy],
                    rate=rate, before=before, seconds=seconds,
                    wait_seconds=plan.deploy_wait_seconds,
                )  # fmt: skip
                runs.append(
                    {
                        "deployment": deployment.file,
                        "deploy": deploy,
                        "repeat": repeat,
                        "offered_rps": rate,
                        **outcome,
                    }
                )
    finally:  # what runs next on this deployment serves the baked model
        serve_baked_model(deployment)
    return runs


def scaling(
    deployment: ComposeDeployment,
    plan: Plan,
    raw: Path,
    budget: Budget,
    estimate: float | None,
    headline: dict | None,
) -> list[dict]:
    """Each planned configuration of this deployment on the same CPU set, searched for its
    capacity (from the headline estimate, where there is one). The deployment's own
    configuration is the headline's first search, where the capacity experiment ran."""
    cpus = budget_cpus(budget)
    configurations = (
        [monolith_replicas(n, cpus) for n in plan.monolith_replicas]
        if deployment.file == "monolith"
        else [split for split in MICRO_SPLITS if split.name in plan.micro_splits]
    )
    rows = []
    for configuration in configurations:
        if headline and configuration.name in OWN_CONFIGURATIONS:
            rows.append(
                {
                    "configuration": configuration.name,
                    "replicas": configuration.replicas,
                    **headline,
                }
            )
            continue
        restore(deployment, configuration.replicas, configuration.environment)
        found = capacity_search(
            deployment,
            raw / f"scaling-{configuration.name.replace(' ', '-')}",
            budget,
            plan.capacity,
            estimate,
        )
        rows.append(
            {"configuration": configuration.name, "replicas": configuration.replicas, **found}
        )
    return rows


BAKED = "logistic regression"  # the model in the images
OWN_CONFIGURATIONS = ("1 replica(s)", "one of each")  # what the headline searches measured


def model_costs(
    deployment: ComposeDeployment, plan: Plan, raw: Path, budget: Budget, headline: dict | None
) -> dict:
    """The baked model and each heavier one served by this deployment, each searched from the
    plan's first rate, so that every model's first trial is at the same rate on both
    architectures (its p99 is the one compared). The baked model's is the headline's first
    search (which starts there too), where the capacity experiment ran. The heavier ones are
    mounted over the baked one (runtimes.rollout.serve_model); the deployment is then told to
    serve the baked one again, from its next start."""
    figures = {}
    for name, model_dir in {BAKED: None, **_networks(plan)}.items():
        if model_dir is None and headline:
            found = headline
        else:
            if model_dir is not None:
                serve_model(deployment, model_dir)
                restore(deployment)
            found = capacity_search(
                deployment, raw / f"model-{name.replace(' ', '-')}", budget, plan.capacity
            )
        figures[name] = {
            "capacity_rps": found["capacity_rps"],
            "censored": found["censored"],
            "p99_ms": found["trials"][0]["p99_ms"],
            "p99_at_rps": found["trials"][0]["offered_rps"],
        }
    serve_baked_model(deployment)
    return figures


def hop_tax(plan: Plan) -> dict:
    """The hop tax (lab/bench/hops.py) as `make bench` measures it, on local processes: on
    Compose's internal network the spans could reach no receiver here. Or why it was not run."""
    from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset

    if shutil.which("haproxy") is None:
        return {"error": "no haproxy here for the local processes' edge (scripts/install-tools.sh)"}
    record = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")[0]
    with tempfile.TemporaryDirectory() as scratch:
        return hops.measure(
            record, Path(scratch), plan.hop_rate, plan.hop_seconds, plan.hop_rounds,
            **UNLIMITED_EDGE,
        )  # fmt: skip


def _networks(plan: Plan) -> dict[str, Path]:
    return {
        f"neural network, width {width}": model_cost.network_model(width)
        for width in plan.network_widths
    }


def model_cost_summary(measured: dict[str, dict], plan: Plan) -> dict:
    from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
    from runtimes.paths import ROOT

    record = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")[0]
    points = []
    for name, model_dir in {BAKED: None, **_networks(plan)}.items():
        points.append(
            {
                "model": name,
                "model_us": model_cost.inference_microseconds(
                    model_dir or ROOT / "models" / "current", record
                ),
                **model_cost.overhead(measured["monolith"][name], measured["micro"][name]),
            }
        )
    by_model = {name: {arch: measured[arch][name] for arch in PAIR} for name in measured["micro"]}
    return {"models": by_model, "points": points, "crossover": model_cost.crossover(points)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short form, for tests")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument(
        "--only",
        default=",".join(EXPERIMENTS),
        help=f"experiments to run, comma-separated, of: {', '.join(EXPERIMENTS)}",
    )
    args = parser.parse_args()
    only = tuple(name for name in EXPERIMENTS if name in args.only.split(","))
    unknown = set(args.only.split(",")) - set(EXPERIMENTS)
    if unknown or not only:
        parser.error(f"unknown experiment(s) {sorted(unknown)}: choose from {EXPERIMENTS}")
    name = "quick" if args.quick else "full"
    command = "make compare" + (" QUICK=1" if args.quick else "")
    if only != EXPERIMENTS:
        command += f" ONLY={','.join(only)}"
    plan = PLANS[name]
    kept = name if only == EXPERIMENTS else f"{name}-{'-'.join(only)}"
    # The wirings each experiment runs on are part of what the cells were measured under.
    cells = Cells(args.out / "cells" / kept, {**asdict(plan), "runs_on": RUNS_ON})
    if len(cells):
        log(f"resuming: {len(cells)} cell(s) kept in {cells.root}")
    results = run(plan, args.out, command, only, cells)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_reports(results, args.out)
    cells.finish(time.strftime("%Y%m%dT%H%M%S", time.gmtime()))
    print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
