"""`make rollout`'s choices: what each wiring replaces for a new model, and what it refuses."""

from __future__ import annotations

import pytest

from runtimes.rollout import main, model_override, running


def test_a_new_model_replaces_the_monolith_whole_and_the_split_wirings_model_tier():
    assert model_override("monolith").name == "model-monolith.yaml"
    assert model_override("micro") == model_override("hybrid")
    assert model_override("micro").name == "model-inference.yaml"
    assert all(model_override(arch).is_file() for arch in ("monolith", "micro", "hybrid"))


def test_a_model_directory_without_a_model_is_refused_before_anything_is_touched(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["micro", "--model-dir", str(tmp_path)])
    assert refused.value.code == 2
    assert "holds no model.onnx" in capsys.readouterr().err


def test_the_running_deployment_is_make_up_s_project_on_its_port(monkeypatch):
    monkeypatch.setenv("HYBRID_PORT", "18090")
    monkeypatch.setenv("PYTHON_IMAGE", "python:3.11-slim")
    deployment = running("hybrid")
    assert (deployment.project, deployment.url) == ("churnlab-hybrid", "http://127.0.0.1:18090")
