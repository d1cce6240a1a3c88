"""`make models`: the real models the lab spans the range of model costs with, each trained once
on the same data (kept under models/, found again by its card's name) and measured in a fresh
process of its own: its ONNX file's size, the memory its loaded and warmed-up session holds,
and what scoring costs per record, alone and in batches of 2 to 64 (the median of rounds,
with its interval). The cost is the model tier's whole call (ONNX Runtime, and the reasons'
table), on this machine's CPU with one intra-op thread, as served.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.inference import ChurnModel
from churnlab.domain.model_card import CARD_FILE, ONNX_FILE
from churnlab.domain.schema import CustomerRecord
from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
from churnlab.ml.train import ModelSpec
from lab.figures import stamped, write_figures
from lab.stats import spread
from runtimes.paths import ROOT

MODELS_DIR = ROOT / "models"
# From today's logistic regression (tens of µs a record) up: trees, then ever wider networks.
RANGE = (
    ModelSpec(),
    ModelSpec("gbt", trees=100),
    ModelSpec("gbt", trees=1000),
    ModelSpec("mlp", width=256),
    ModelSpec("mlp", width=1024),
    ModelSpec("mlp", width=2048, depth=4),
)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
ROUND_SECONDS = 0.2  # each round scores for at least this long, and at least three calls


def trained(spec: ModelSpec) -> Path:
    """The model of this spec under models/, trained (not made current) the first time."""
    for card in sorted(MODELS_DIR.glob(f"churn-*/{CARD_FILE}")):
        if json.loads(card.read_text())["name"] == spec.name:
            return card.parent
    command = [
        sys.executable, "-m", "churnlab.ml", "--model", spec.kind, "--width", str(spec.width),
        "--depth", str(spec.depth), "--trees", str(spec.trees), "--no-current",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"training {spec.name} failed:\n{done.stderr[-3000:]}")
    for card in sorted(MODELS_DIR.glob(f"churn-*/{CARD_FILE}")):
        if json.loads(card.read_text())["name"] == spec.name:
            return card.parent
    raise RuntimeError(f"trained {spec.name}, but no card of that name is under {MODELS_DIR}")


def resident_bytes() -> int:
    """This process's resident memory (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def us_per_record(model: ChurnModel, records: list[dict], size: int, rounds: int) -> dict:
    """Microseconds a record when the first `size` records are scored together."""
    columns = records_to_columns([CustomerRecord.model_validate(r) for r in records[:size]])
    features = prepare_features(columns)
    return per_record_us(lambda: model.predict(features), size, rounds)


def per_record_us(score: Callable[[], object], size: int, rounds: int) -> dict:
    """Microseconds a record of a call that scores `size` records, round by round (after one
    call unmeasured: its first may build what later ones reuse)."""
    score()
    per_round = []
    for _ in range(rounds):
        calls, started = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - started < ROUND_SECONDS:
            score()
            calls += 1
        per_round.append((time.perf_counter() - started) / calls / size * 1e6)
    return spread(per_round, 1)


def measure(model_dir: Path, records: list[dict], rounds: int = 5) -> dict:
    """One model, in this process: call it in a fresh one, so that its memory is its own."""
    before = resident_bytes()
    model = ChurnModel.load(model_dir)
    model.warm_up()
    held = resident_bytes() - before
    return {
        "name": model.card["name"],
        "version": model.version,
        "model": model.card.get("model", {"kind": "logistic"}),
        "roc_auc": model.card["holdout_metrics"]["roc_auc"],
        "onnx_bytes": (model_dir / ONNX_FILE).stat().st_size,
        "memory_bytes": held,
        "us_per_record": {
            str(size): us_per_record(model, records, size, rounds) for size in BATCH_SIZES
        },
    }


def measured_apart(model_dir: Path, rounds: int) -> dict:
    command = [sys.executable, "-m", "lab.bench.model_range", "--measure", str(model_dir)]
    done = subprocess.run(
        [*command, "--rounds", str(rounds)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def summary_markdown(figures: dict) -> str:
    sizes = [str(size) for size in BATCH_SIZES]
    lines = [
        f"Measured by `{figures['command']}` on {figures['date']}: {figures['machine']['cpus']} "
        f"CPUs. µs per record, median of {figures['rounds']} rounds (min to max below).",
        "",
        "| model | ROC AUC | ONNX | memory held | "
        + " | ".join(f"batch {s}" for s in sizes)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in sizes) + " |",
    ]
    for model in figures["models"]:
        cost = model["us_per_record"]
        lines.append(
            f"| {model['name']} | {model['roc_auc']:.3f} | {model['onnx_bytes'] / 1e6:.1f} MB "
            f"| {model['memory_bytes'] / 1e6:.0f} MB | "
            + " | ".join(
                f"{cost[s]['median']:,.1f} ({cost[s]['min']:,.0f} to {cost[s]['max']:,.0f})"
                for s in sizes
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=Path, help="measure one model dir; JSON on stdout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated card names, of: " + ", ".join(
        spec.name for spec in RANGE))  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.measure:
        records = load_dataset(DEFAULT_DATASET_PATH)[0].head(max(BATCH_SIZES))
        print(json.dumps(measure(args.measure, records.to_dict("records"), args.rounds)))
        return
    chosen = [s for s in RANGE if not args.only or s.name in args.only.split(",")]
    figures = stamped("make models", rounds=args.rounds, models=[])
    for spec in chosen:
        print(f"==> {spec.name}", file=sys.stderr)
        figures["models"].append(measured_apart(trained(spec), args.rounds))
    summary = summary_markdown(figures)
    print(summary)
    if args.json:
        write_figures(figures, args.json, summary)


if __name__ == "__main__":
    main()
