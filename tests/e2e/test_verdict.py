"""make verdict from nothing measured: it starts the three wirings as local processes behind
their edges, serving ChurnLab's model and then a dearer one (a small network here, trained on
first use), and answers from what it saw (short rounds: the figures are not the point here,
that they are measured and used is)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runtimes.paths import ROOT


@pytest.mark.timeout(600)  # six deployments started in turn, and a network trained
def test_the_verdict_measures_every_wiring_it_answers_for(tmp_path):
    command = [
        sys.executable, "-m", "lab.verdict", "--model-ms", "0.04", "--model-mb", "10",
        "--rate", "20", "--slo-ms", "200", "--rounds", "2", "--seconds", "1",
        "--dearer", "churn-mlp-2x256",
        "--json", str(tmp_path / "verdict.json"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=560)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((tmp_path / "verdict.json").read_text())
    points = figures["measured"]["points"]
    assert [point["model"]["name"] for point in points] == [
        "churn-logistic-regression",
        "churn-mlp-2x256",
    ]
    for point in points:
        wirings = point["wirings"]
        for name in ("monolith", "micro", "hybrid"):
            assert wirings["predict_rps"][name]["runs"] == 2
            assert wirings["cpu_ms_per_request"][name]["median"] > 0
            assert wirings["memory_bytes"][name] > 50_000_000  # gunicorn, Flask and the model
    # 20 requests a second of a model as cheap as ChurnLab's, within 200 ms: the monolith, at a
    # fraction of the split wirings' CPU, serves it here. (Not a 1 ms model: lines through two
    # costs this close, 0.04 and 0.05 ms, carry their noise twenty-fold when extrapolated.)
    assert figures["answer"]["wirings"]["monolith"]["nodes_for_rate"] == 1
    assert figures["answer"]["chosen"] == "monolith"
