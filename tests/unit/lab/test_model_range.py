"""`make models`: a model is trained once and found again by its card's name, measured in a
process of its own, and the table says what was measured."""

from __future__ import annotations

import json
import subprocess

import pytest

import lab.bench.model_range as model_range
from churnlab.ml.train import ModelSpec
from tests.conftest import MODEL_DIR


def card_in(directory, name: str) -> None:
    directory.mkdir(parents=True)
    (directory / "model_card.json").write_text(json.dumps({"name": name}))


def test_a_model_trained_before_is_found_by_name_and_not_trained_again(tmp_path, monkeypatch):
    card_in(tmp_path / "churn-aaa", "churn-gbt-100")
    card_in(tmp_path / "churn-bbb", "churn-mlp-2x256")
    monkeypatch.setattr(model_range, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("trained again"))
    assert model_range.trained(ModelSpec("mlp", width=256)) == tmp_path / "churn-bbb"


def test_a_new_model_is_trained_with_its_knobs_and_never_made_current(tmp_path, monkeypatch):
    monkeypatch.setattr(model_range, "MODELS_DIR", tmp_path)
    commands = []

    def train(command, **_):
        commands.append(command)
        card_in(tmp_path / "churn-ccc", "churn-mlp-4x64")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", train)
    assert model_range.trained(ModelSpec("mlp", width=64, depth=4)) == tmp_path / "churn-ccc"
    (command,) = commands
    assert command[command.index("--width") + 1] == "64"
    assert command[command.index("--depth") + 1] == "4"
    assert "--no-current" in command


def test_the_served_model_is_measured_at_every_batch_size_in_a_process_of_its_own():
    """Its own: in a process that has loaded a model before, the memory is already held."""
    figures = model_range.measured_apart(MODEL_DIR, rounds=2)
    assert figures["name"] == "churn-logistic-regression"
    assert figures["onnx_bytes"] == (MODEL_DIR / "model.onnx").stat().st_size
    assert figures["memory_bytes"] > 0  # a session holds its graph and arena
    assert list(figures["us_per_record"]) == [str(size) for size in model_range.BATCH_SIZES]
    assert all(cost["runs"] == 2 for cost in figures["us_per_record"].values())
    table = model_range.summary_markdown(
        {"command": "make models", "date": "today", "machine": {"cpus": 2}, "rounds": 2,
         "models": [figures]}
    )  # fmt: skip
    assert f"| churn-logistic-regression | {figures['roc_auc']:.3f} |" in table
