"""make verdict for a model the lab never used: an ONNX network made here, on inputs nothing in
ChurnLab has (twelve floats), measured on random inputs of its declared shape and answered
against wirings an earlier verdict measured (data/verdict-wirings.json, this machine's, with
batching off and on: make verdict BATCHING=1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.neural_network import MLPClassifier

from lab.bench.model_range import BATCH_SIZES
from lab.verdict import onnx_cost
from runtimes.paths import ROOT

WIRINGS = Path(__file__).parent / "data" / "verdict-wirings.json"


def _network(path: Path, batch: int | None = None) -> Path:
    rng = np.random.default_rng(3)
    features = rng.standard_normal((200, 12)).astype(np.float32)
    labels = (features[:, 0] > 0).astype(int)
    network = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=20).fit(features, labels)
    onnx = to_onnx(network, initial_types=[("x", FloatTensorType([batch, 12]))])
    path.write_bytes(onnx.SerializeToString())
    return path


def _verdict(*arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lab.verdict", "--rounds", "2", *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_model_the_lab_never_used_gets_a_verdict_with_what_it_rests_on(tmp_path):
    onnx = _network(tmp_path / "theirs.onnx")
    done = _verdict(
        "--onnx", str(onnx), "--wirings", str(WIRINGS), "--rate", "100", "--slo-ms", "50",
        "--json", str(tmp_path / "verdict.json"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads((tmp_path / "verdict.json").read_text())
    model = figures["measured"]["model"]
    assert model["onnx_bytes"] == onnx.stat().st_size
    assert model["memory_bytes"] > 0
    assert list(model["us_per_record"]) == [str(size) for size in BATCH_SIZES]
    assert figures["answer"]["chosen"] in {"monolith", "micro", "hybrid"}
    summary = (tmp_path / "verdict.md").read_text()
    assert summary == done.stdout
    assert "serves 100 requests/s within a p99 of 50 ms" in summary
    assert "No latency was measured at your rate" in summary
    assert "with batching (measured lines)" in summary
    assert "Serving churn-mlp-4x2048, batching on" in summary
    assert "requests a model call scored on average: monolith" in summary
    assert "## The measured points it rests on" in summary
    assert "## What is a model, not a measurement" in summary


def test_a_model_given_by_its_cost_that_the_objective_cannot_hold_gets_no_wiring(tmp_path):
    """Against wirings measured without batching: a given model's batch cost is unknown, so
    no capacity with batching is made up for it, nor an interval for its cost."""
    measured = json.loads(WIRINGS.read_text())
    points = measured["measured"]["points"]
    measured["measured"]["points"] = [point for point in points if not point["batching"]]
    unbatched = tmp_path / "unbatched.json"
    unbatched.write_text(json.dumps(measured))
    done = _verdict(
        "--model-ms", "80", "--model-mb", "100", "--wirings", str(unbatched),
        "--rate", "10", "--slo-ms", "50",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "**By the model below, no wiring serves 10 requests/s within a p99 of 50 ms**" in (
        done.stdout
    )
    assert "given (MODEL_MS, MODEL_MB): 80.000 ms a record alone; 100 MB held." in done.stdout
    assert "with batching (estimate)" in done.stdout
    assert "| — |" in done.stdout


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        (["--model-ms", "1"], "--model-ms needs --model-mb"),
        (["--model-ms", "1", "--model-mb", "-5"], "-5 is not above zero"),
        (["--model-ms", "0", "--model-mb", "5"], "0 is not above zero"),
    ],
)
def test_what_cannot_describe_a_model_is_refused_before_anything_runs(arguments, refusal):
    done = _verdict(*arguments, "--rate", "1", "--slo-ms", "1")
    assert done.returncode == 2
    assert refusal in done.stderr


def test_a_model_must_be_given_one_way_only():
    both = _verdict("--onnx", "x.onnx", "--model-ms", "1", "--rate", "1", "--slo-ms", "1")
    neither = _verdict("--rate", "1", "--slo-ms", "1")
    for done in (both, neither):
        assert done.returncode == 2
        assert "give --onnx FILE or --model-ms MS" in done.stderr


def test_a_batch_fixed_at_one_is_the_only_size_measured(tmp_path):
    session = onnx_cost.served_session(_network(tmp_path / "one.onnx", batch=1))
    assert onnx_cost.batch_sizes(session) == (1,)


def test_a_batch_fixed_above_one_is_refused_with_the_way_out(tmp_path):
    """A request would pay for a whole padded call of eight: its cost is not a record's."""
    session = onnx_cost.served_session(_network(tmp_path / "eight.onnx", batch=8))
    with pytest.raises(onnx_cost.UnmeasurableModelError, match="fixed at \\[8\\]: give MODEL_MS"):
        onnx_cost.batch_sizes(session)


def test_inputs_random_values_cannot_stand_for_are_refused_with_the_way_out(tmp_path):
    """ChurnLab's own model takes its categories as strings."""
    ours = next((ROOT / "models" / "current").glob("*.onnx"))
    with pytest.raises(onnx_cost.UnmeasurableModelError, match="give MODEL_MS instead"):
        onnx_cost.measured_apart(ours, rounds=1)
