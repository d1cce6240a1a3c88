"""`make compare-swarm`: both architectures on the local Swarm (runtimes/swarm.py).

    python -m lab.experiments.swarm            # about 25 minutes
    python -m lab.experiments.swarm --quick    # 1 and 2 nodes, one node fault each

Scaling across nodes: 1, 2 and 3 nodes sharing the same total budget (the deployment CPU set
of budget.py, and the same memory), the monolith as one replica per node, the microservices
split per stage; capacity at the SLO by the same search as `make compare` (capacity.py). Then node
faults on the largest cluster, under open-loop load. Writes reports/swarm.json and
reports/swarm.md, and plots into reports/swarm.html.

What this emulation is: the nodes are containers on one host, sharing its cores (each with its
own quota), and the network between them is a local bridge with VXLAN on top; nothing here
crosses a wire. It shows how each architecture spreads and survives node loss, not what more
machines would add.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from lab.experiments.budget import MEMORY_MB, UNLIMITED_EDGE, Budget
from lab.experiments.capacity import Method, capacity_search, describe
from lab.experiments.node_faults import NODE_FAULTS, node_fault_run
from lab.experiments.report import img, markdown_table, node_scaling_plot, rewrite_reports
from runtimes import swarm
from runtimes.shell import build_images

SLO_MS = 250


@dataclass(frozen=True)
class SwarmPlan:
    node_counts: tuple[int, ...]
    capacity: Method
    faults: tuple[str, ...]
    fault_rate: float
    fault_phases: tuple[float, float, float]


PLANS = {
    "full": SwarmPlan(
        (1, 2, 3),
        Method(
            slo_ms=SLO_MS, settle_seconds=5, measure_seconds=30, calls=1000, timeout_seconds=5,
            start=25, limit=800, floor=5, resolution=0.05,
        ),
        NODE_FAULTS, 15, (5, 35, 15),
    ),
    "quick": SwarmPlan(
        (1, 2),
        Method(
            slo_ms=SLO_MS, settle_seconds=1, measure_seconds=2, calls=400, timeout_seconds=2,
            start=25, limit=800, floor=10, resolution=0.25,
        ),
        ("kill",), 10, (3, 35, 10),
    ),
}  # fmt: skip
# The microservices' splits of a cluster's budget: stage -> replicas, for n nodes.
MICRO_SPLITS = {
    "inference on every node": lambda n: {"INFERENCE_REPLICAS": str(n)},
    "2 gateways, inference on every node": lambda n: {
        "INFERENCE_REPLICAS": str(n),
        "GATEWAY_REPLICAS": "2",
    },
}


def log(message: str) -> None:
    print(f"==> [{time.strftime('%H:%M:%S')}] {message}", flush=True)


def measure(
    deployment: str, settings: dict[str, str], log_file: Path, budget: Budget, plan: SwarmPlan
) -> dict:
    """The deployment alone on the cluster with these settings: its capacity by search."""
    swarm.deploy(deployment, **settings, **UNLIMITED_EDGE)
    time.sleep(5)  # every replica past its start period, DNS caught up
    measured = capacity_search(swarm.Stack(deployment), log_file, budget, plan.capacity)
    swarm.remove(deployment)
    return measured


def run(plan: SwarmPlan, out: Path) -> dict:
    budget = Budget.for_this_machine()
    build_images()
    results: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "budget": {**budget.describe(), "note": "the same total for every node count"},
        "scaling": [],
        "node_faults": [],
    }
    for nodes in plan.node_counts:
        log(f"{nodes} node(s): cluster up")
        swarm.up(
            swarm.Budget(
                nodes, budget.deployment_cpu_count, MEMORY_MB * 2, cpuset=budget.deployment_cpus
            )
        )
        swarm.push_images("monolith", "micro")
        configurations = [("monolith", f"{nodes} replica(s)", {"MONOLITH_REPLICAS": str(nodes)})]
        configurations += [("micro", name, split(nodes)) for name, split in MICRO_SPLITS.items()]
        for deployment, name, settings in configurations:
            log(f"{nodes} node(s): {deployment}, {name}")
            log_file = out / f"{deployment}-{nodes}-nodes-{len(results['scaling'])}"
            curve = measure(deployment, settings, log_file, budget, plan)
            results["scaling"].append(
                {"nodes": nodes, "deployment": deployment, "configuration": name, **curve}
            )
    before, during, after = plan.fault_phases
    for deployment in ("monolith", "micro"):
        replicas = {"monolith": "MONOLITH_REPLICAS", "micro": "INFERENCE_REPLICAS"}[deployment]
        swarm.deploy(deployment, **{replicas: str(plan.node_counts[-1])}, **UNLIMITED_EDGE)
        for kind in plan.faults:
            log(f"{deployment}: node fault, {kind}")
            try:
                measured = node_fault_run(
                    deployment, out, kind, rate=plan.fault_rate, before=before, during=during,
                    after=after, generator_cpus=budget.generator_cpus,
                )  # fmt: skip
            except (RuntimeError, TimeoutError) as error:  # reported, the others still run
                measured = {"deployment": deployment, "fault": kind, "error": str(error)[:500]}
            results["node_faults"].append(measured)
        swarm.remove(deployment)
    swarm.down()
    return results


def summary(results: dict) -> str:
    scaling = markdown_table(
        ["nodes", "deployment", "configuration", f"capacity (99% within {SLO_MS} ms)",
         "bracket"],
        [
            [str(r["nodes"]), r["deployment"], r["configuration"], describe(r),
             " to ".join(f"{rate:g}" for rate in r["bracket"] if rate is not None)]
            for r in results["scaling"]
        ],
    )  # fmt: skip
    faults = markdown_table(
        ["deployment", "fault", "detect", "primary elsewhere", "tasks back",
         "replicated again (after the fault)", "requests failed", "200s on one copy",
         "records lost (node down / back)"],
        [
            [f["deployment"], f["fault"], _seconds(f["time_to_detect_s"]),
             _seconds(f["primary_elsewhere_s"]), _seconds(f["tasks_back_s"]),
             _seconds(f.get("replicated_again_s")),
             f"{f['requests_failed']} of {f['requests_intended']}",
             str(f.get("answered_on_one_copy", "n/a")),
             f"{f['records_lost_node_down']} / {f['records_lost']}"]
            for f in results["node_faults"]
            if "error" not in f
        ],
    )  # fmt: skip
    failed = "".join(
        f"\n- {f['deployment']}, {f['fault']}: not measured ({f['error'][:200]})"
        for f in results["node_faults"]
        if "error" in f
    )
    return (
        f"Measured by `{results['command']}` from {results['started']}; nodes share the "
        f"deployment CPU set {results['budget']['deployment_cpus']} equally, the generator "
        f"runs on {results['budget']['generator_cpus']}.\n\n{scaling}\n\n{faults}\n{failed}\n"
    )


def _seconds(value: float | None) -> str:
    return "not in the run" if value is None else f"{value:g} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    raw = args.out / "raw" / "swarm"
    raw.mkdir(parents=True, exist_ok=True)
    results = run(PLANS["quick" if args.quick else "full"], raw)
    results["command"] = "make compare-swarm" + (" QUICK=1" if args.quick else "")
    (args.out / "swarm.json").write_text(json.dumps(results, indent=2))
    text = summary(results)
    (args.out / "swarm.md").write_text(text)
    plot = img("capacity by node count", node_scaling_plot(results["scaling"]))
    (args.out / "swarm.html").write_text(
        "<!doctype html><meta charset=utf-8><title>ChurnLab on the local Swarm</title>"
        f"<h1>ChurnLab on the local Swarm</h1>{plot}<pre>{text}</pre>"
    )
    print(text)
    if why_not := rewrite_reports(args.out):  # the compare report shows these too
        print(f"compare.html not rewritten: {why_not}")


if __name__ == "__main__":
    main()
