"""`make compare`: both deployments, the same experiments, one machine, one report.

    python -m loadtests.compare            # about 15 minutes
    python -m loadtests.compare --quick    # about 4 minutes: fewer steps and faults

Writes reports/results.json, reports/summary.md and reports/compare.html (self-contained).
Needs Docker: the faults are real container kills, pauses and CPU quotas.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from loadtests.deployments import compose_deployment
from loadtests.experiments import curve, fault_run, steady_throughput
from loadtests.report import write_reports

# (deployment, component, which replica, fault). Components are Compose services.
FAULTS = [
    ("monolith", "monolith", 0, "kill"),
    ("monolith", "monolith", 0, "pause"),
    ("monolith", "monolith", 0, "cpu"),
    ("micro", "gateway", 0, "kill"),
    ("micro", "ingest", 0, "kill"),
    ("micro", "ingest", 0, "pause"),
    ("micro", "features", 0, "pause"),
    ("micro", "features", 0, "cpu"),
    ("micro", "features", 0, "blackhole"),
    ("micro", "inference", 0, "kill"),
    ("micro", "inference", 0, "pause"),
]
QUICK_FAULTS = [FAULTS[0], FAULTS[4], FAULTS[9]]


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run, for tests")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    quick = args.quick
    raw = args.out / "raw"
    plan = {
        "peak_users": 16 if quick else 48,
        "step_users": 4,
        "step_seconds": 4 if quick else 6,
        "scaling": [1, 2] if quick else [1, 2, 3],
        "scaling_users": 16 if quick else 32,
        "scaling_seconds": 8 if quick else 15,
        "fault_users": 8,
        "fault_seconds": (4, 6, 8) if quick else (6, 10, 12),
        "faults": QUICK_FAULTS if quick else FAULTS,
    }
    results = {
        "command": "make compare" + (" QUICK=1" if quick else ""),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "plan": {k: v for k, v in plan.items() if k != "faults"},
        "curve": {},
        "scaling": {"monolith": {}, "micro": {}},
        "faults": [],
    }
    for arch in ("monolith", "micro"):
        with compose_deployment(arch, project=f"churnlab-compare-{arch}") as deployment:
            print(f"==> {arch}: throughput/latency curve", flush=True)
            results["curve"][arch] = curve(
                deployment,
                raw / arch,
                peak=plan["peak_users"],
                step_users=plan["step_users"],
                step_seconds=plan["step_seconds"],
            )
            for size in plan["scaling"]:
                print(f"==> {arch}: scaling, {size} worker(s)/replica(s)", flush=True)
                if arch == "micro":
                    deployment.compose(
                        "up",
                        "-d",
                        "--no-build",
                        "--no-recreate",
                        "--scale",
                        f"inference={size}",
                        "--wait",
                    )
                else:
                    deployment.environment["MONOLITH_WORKERS"] = str(size)
                    deployment.compose("up", "-d", "--no-build", "--wait")
                time.sleep(2)
                results["scaling"][arch][str(size)] = steady_throughput(
                    deployment,
                    raw / arch / f"scaling-{size}.csv",
                    users=plan["scaling_users"],
                    seconds=plan["scaling_seconds"],
                )
            # Faults run at two inference replicas / two monolith workers.
            restore = ["up", "-d", "--no-build", "--wait"]
            if arch == "micro":
                restore += ["--scale", "inference=2"]
            else:
                deployment.environment["MONOLITH_WORKERS"] = "2"
            deployment.compose(*restore)
            for fault_arch, component, replica, fault in plan["faults"]:
                if fault_arch != arch:
                    continue
                print(f"==> {arch}: {fault} {component}", flush=True)
                container = deployment.containers(component)[replica].name
                before, during, after = plan["fault_seconds"]
                outcome = fault_run(
                    deployment,
                    raw / arch,
                    component=component,
                    container=container,
                    fault=fault,
                    users=plan["fault_users"],
                    before=before,
                    during=during,
                    after=after,
                )
                results["faults"].append({"deployment": arch, **outcome})
                deployment.compose(*restore)  # whatever the fault left behind
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_reports(results, args.out)
    print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
