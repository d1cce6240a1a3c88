"""`make verdict`: which wiring serves your model at your rate within your p99, here and at N
machines like this one. Your model is measured here (an ONNX file, on random inputs of its
declared shapes) or given as MODEL_MS and MODEL_MB; the three wirings are measured here with
ChurnLab's model, as make bench measures them; answer.py composes the two.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from churnlab.config import Settings
from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
from lab.bench import model_range
from lab.bench.wirings import wiring_figures
from lab.experiments.budget import UNLIMITED_EDGE
from lab.figures import stamped, write_figures
from lab.load.cpu import tree_resident_bytes
from lab.verdict import onnx_cost
from lab.verdict.answer import BATCH_BOUND, Model, Target, Wiring, judge
from lab.verdict.summary import summary_markdown
from runtimes.local import local_deployment

WIRINGS = ("monolith", "micro", "hybrid")
# Processes that each hold a model: the monolith's two workers (WEB_CONCURRENCY), each split
# wiring's two model replicas (compose/local/micro.conf, hybrid.conf).
MODEL_COPIES = {"monolith": 2, "micro": 2, "hybrid": 2}


def measure_wirings(record: dict, seconds: int, rounds: int) -> dict:
    """The three wirings as local processes behind their edges, in rounds taking them in turns
    (lab/bench/wirings.py), and each one's resident memory once served."""
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        quiet = {**UNLIMITED_EDGE, "OTEL_TRACES_EXPORTER": "none"}
        with (
            local_deployment("monolith", base / "monolith", **quiet) as monolith,
            local_deployment("micro", base / "micro", **quiet) as micro,
            local_deployment("hybrid", base / "hybrid", **quiet) as hybrid,
        ):
            deployments = {"monolith": monolith, "micro": micro, "hybrid": hybrid}
            figures = wiring_figures(record, deployments, seconds, rounds)
            figures["memory_bytes"] = {
                name: tree_resident_bytes(deployment.pid)
                for name, deployment in deployments.items()
            }
    return figures


def wirings_from(figures: dict) -> dict[str, Wiring]:
    """Each wiring's measured figures, as answer.py takes them."""
    wirings = {}
    for name in WIRINGS:
        cpu = figures["cpu_ms_per_request"][name]
        served = figures["predict_rps"][name]["median"]
        wirings[name] = Wiring(
            cpu_ms=cpu["median"],
            cpu_ms_interval=tuple(cpu["interval"] or (cpu["min"], cpu["max"])),
            cores=served * cpu["median"] / 1000,
            low_load_ms=figures["p50_ms_low_load"][name]["median"],
            memory_bytes=figures["memory_bytes"][name],
            model_copies=MODEL_COPIES[name],
        )
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
    """MODEL_MS and MODEL_MB, in the form of a measured model's figures (no interval)."""
    cost = {"median": ms * 1000, "interval": [ms * 1000, ms * 1000], "min": ms * 1000,
            "max": ms * 1000}  # fmt: skip
    return {"given": True, "us_per_record": {"1": cost}, "memory_bytes": int(mb * 1e6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, help="your model, measured here")
    parser.add_argument("--model-ms", type=float, help="or its cost a record, in ms")
    parser.add_argument("--model-mb", type=float, default=0.0, help="and the memory it holds")
    parser.add_argument("--rate", type=float, required=True, help="requests a second to serve")
    parser.add_argument("--slo-ms", type=float, required=True, help="the p99 to stay within")
    parser.add_argument("--memory-mb", type=float, help="one machine's memory for a deployment")
    parser.add_argument(
        "--wirings", type=Path, help="reuse the wirings measured by an earlier verdict's JSON"
    )
    parser.add_argument("--seconds", type=int, default=3, help="length of each wiring's run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds taking the wirings in turn")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if (args.onnx is None) == (args.model_ms is None):
        parser.error("give --onnx FILE or --model-ms MS (with --model-mb MB), not both")
    try:
        theirs = (
            onnx_cost.measured_apart(args.onnx, args.rounds)
            if args.onnx
            else given_model(args.model_ms, args.model_mb)
        )
    except onnx_cost.UnmeasurableModelError as error:
        sys.exit(str(error))
    ours = model_range.measured_apart(Settings().model_dir.resolve(), args.rounds)
    if args.wirings:
        wirings = json.loads(args.wirings.read_text())["measured"]["wirings"]
    else:
        record = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")[0]
        wirings = measure_wirings(record, args.seconds, args.rounds)
    target = Target(
        rate=args.rate,
        slo_ms=args.slo_ms,
        memory_bytes=int(args.memory_mb * 1e6) if args.memory_mb else None,
    )
    figures = stamped(
        "make verdict",
        target=vars(target),
        measured={"model": theirs, "churnlab_model": ours, "wirings": wirings},
        answer=judge(wirings_from(wirings), model_from(ours), model_from(theirs), target),
    )
    summary = summary_markdown(figures)
    print(summary, end="")
    if args.json:
        write_figures(figures, args.json, summary)


if __name__ == "__main__":
    main()
