"""`make verdict`: which wiring serves your model at your rate within your p99, here and at N
machines like this one. Your model is measured here (an ONNX file, on random inputs of its
declared shapes) or given as MODEL_MS and MODEL_MB; the three wirings are measured here serving
ChurnLab's model and a network sixty to eighty times dearer, as make bench measures them; answer.py
reads your model off the lines between.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from churnlab.config import Settings
from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
from churnlab.ml.train import ModelSpec
from lab.bench import model_range
from lab.bench.wirings import wiring_figures
from lab.experiments.budget import UNLIMITED_EDGE
from lab.figures import stamped, write_figures
from lab.load.cpu import tree_resident_bytes
from lab.verdict import onnx_cost
from lab.verdict.answer import BATCH_BOUND, Model, Point, Target, Wiring, judge
from lab.verdict.summary import summary_markdown
from runtimes.http import model_batches
from runtimes.local import local_deployment

WIRINGS = ("monolith", "micro", "hybrid")
# The dearer of the two models every wiring is measured serving, by default: a network of the
# lab's range (make models), 2.4 to 3.0 ms a record here against the logistic regression's 0.036.
DEARER = {spec.name: spec for spec in model_range.RANGE}
DEFAULT_DEARER = ModelSpec("mlp", width=2048, depth=4).name


def measure_wirings(
    record: dict, seconds: int, rounds: int, model_dir: Path, batching: bool
) -> dict:
    """The three wirings as local processes behind their edges, serving the model in
    `model_dir` with adaptive batching on or off, in rounds taking them in turns
    (lab/bench/wirings.py); each one's resident memory once served, and with batching the
    batches its model formed over the whole set of rounds, the one-connection runs included
    (the monolith's workers together, a split wiring's first model replica alone)."""
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        serving = {
            **UNLIMITED_EDGE,
            "OTEL_TRACES_EXPORTER": "none",
            "CHURNLAB_MODEL_DIR": str(model_dir),
            "CHURNLAB_BATCHING": str(batching).lower(),
        }
        with (
            local_deployment("monolith", base / "monolith", **serving) as monolith,
            local_deployment("micro", base / "micro", **serving) as micro,
            local_deployment("hybrid", base / "hybrid", **serving) as hybrid,
        ):
            deployments = {"monolith": monolith, "micro": micro, "hybrid": hybrid}
            figures = wiring_figures(record, deployments, seconds, rounds)
            figures["memory_bytes"] = {
                name: tree_resident_bytes(deployment.pid)
                for name, deployment in deployments.items()
            }
            if batching:
                figures["batches"] = {
                    "monolith": model_batches(monolith.app_url),
                    "micro": model_batches(micro.stage_url("inference")),
                    "hybrid": model_batches(hybrid.stage_url("inference")),
                }
    return figures


def measure_points(seconds: int, rounds: int, dearer: ModelSpec, batching: bool) -> list[dict]:
    """Each wiring serving ChurnLab's model, then a dearer one (trained on first use), with
    batching off and, if asked, on: each model's own cost, and the wirings' figures serving
    it."""
    record = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")[0]
    points = []
    for model_dir in (Settings().model_dir.resolve(), model_range.trained(dearer)):
        model = model_range.measured_apart(model_dir, rounds)
        for batched in (False, True) if batching else (False,):
            print(f"==> the wirings serving {model['name']}, batching {batched}", file=sys.stderr)
            points.append(
                {
                    "model": model,
                    "batching": batched,
                    "wirings": measure_wirings(record, seconds, rounds, model_dir, batched),
                }
            )
    return points


def wirings_from(points: list[dict], batching: bool = False) -> dict[str, Wiring]:
    """Each wiring's measured points, with batching off or on, as answer.py takes them."""
    chosen = [point for point in points if point.get("batching", False) == batching]
    wirings = {}
    for name in WIRINGS:
        measured = []
        for point in chosen:
            figures = point["wirings"]
            rps = figures["predict_rps"][name]
            measured.append(
                Point(
                    model_ms=point["model"]["us_per_record"]["1"]["median"] / 1000,
                    cpu_ms=figures["cpu_ms_per_request"][name]["median"],
                    rps=rps["median"],
                    rps_interval=tuple(rps["interval"] or (rps["min"], rps["max"])),
                    low_load_ms=figures["p50_ms_low_load"][name]["median"],
                    memory_bytes=figures["memory_bytes"][name],
                    model_memory_bytes=point["model"]["memory_bytes"],
                )
            )
        wirings[name] = Wiring(points=tuple(measured), least_model_share=_least_share(chosen, name))
    return wirings


def model_from(measured: dict) -> Model:
    """A model's measured cost (ms a record alone, and within a batch of BATCH_BOUND)."""
    alone = measured["us_per_record"]["1"]
    interval = alone["interval"] or (alone["min"], alone["max"])
    batched = measured["us_per_record"].get(str(BATCH_BOUND))
    return Model(
        ms=alone["median"] / 1000,
        ms_interval=(interval[0] / 1000, interval[1] / 1000),
        batched_ms=batched["median"] / 1000 if batched else None,
        memory_bytes=measured["memory_bytes"],
    )


def given_model(ms: float, mb: float) -> dict:
    """MODEL_MS and MODEL_MB, in the form of a measured model's figures, with no interval."""
    cost = {"median": ms * 1000, "interval": None, "min": ms * 1000, "max": ms * 1000}
    return {"given": True, "us_per_record": {"1": cost}, "memory_bytes": int(mb * 1e6)}


def positive(text: str) -> float:
    """An argument that must be a number above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above zero")
    return value


def _least_share(points: list[dict], name: str) -> float:
    """1 / the most requests one of this wiring's model calls scored on average, at any point
    measured with batching; 1 without batching."""
    shares = [
        batches["calls"] / batches["requests"]
        for point in points
        if (batches := point["wirings"].get("batches", {}).get(name)) and batches["requests"]
    ]
    return min(shares, default=1.0)


def _batched(points: list[dict]) -> bool:
    return any(point.get("batching") for point in points)


def _whole(text: str) -> int:
    """A count of one or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number above zero")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, help="your model, measured here")
    parser.add_argument("--model-ms", type=positive, help="or its cost a record, in ms")
    parser.add_argument("--model-mb", type=positive, help="and the memory it holds, in MB")
    parser.add_argument("--rate", type=positive, required=True, help="requests a second to serve")
    parser.add_argument("--slo-ms", type=positive, required=True, help="the p99 to stay within")
    parser.add_argument("--memory-mb", type=positive, help="one machine's memory for a deployment")
    parser.add_argument(
        "--wirings", type=Path, help="reuse the wirings measured by an earlier verdict's JSON"
    )
    parser.add_argument(
        "--dearer", choices=DEARER, default=DEFAULT_DEARER, help="the dearer model measured"
    )
    parser.add_argument(
        "--batching",
        action="store_true",
        help="also measure each wiring with adaptive batching on (twice as long)",
    )
    parser.add_argument("--seconds", type=_whole, default=3, help="length of each wiring's run")
    parser.add_argument(
        "--rounds", type=_whole, default=5, help="rounds taking the wirings in turn"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if (args.onnx is None) == (args.model_ms is None):
        parser.error("give --onnx FILE or --model-ms MS (with --model-mb MB), not both")
    if args.model_ms is not None and args.model_mb is None:
        parser.error("--model-ms needs --model-mb: the memory the model holds")
    try:
        theirs = (
            onnx_cost.measured_apart(args.onnx, args.rounds)
            if args.onnx
            else given_model(args.model_ms, args.model_mb)
        )
    except onnx_cost.UnmeasurableModelError as error:
        sys.exit(str(error))
    points = (
        json.loads(args.wirings.read_text())["measured"]["points"]
        if args.wirings
        else measure_points(args.seconds, args.rounds, DEARER[args.dearer], args.batching)
    )
    target = Target(
        rate=args.rate,
        slo_ms=args.slo_ms,
        memory_bytes=int(args.memory_mb * 1e6) if args.memory_mb else None,
    )
    figures = stamped(
        "make verdict",
        target=vars(target),
        measured={"model": theirs, "points": points},
        answer=judge(
            wirings_from(points),
            model_from(theirs),
            target,
            batched=wirings_from(points, batching=True) if _batched(points) else None,
        ),
    )
    summary = summary_markdown(figures)
    print(summary, end="")
    if args.json:
        write_figures(figures, args.json, summary)


if __name__ == "__main__":
    main()
