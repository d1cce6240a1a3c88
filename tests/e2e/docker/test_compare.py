"""`make compare`, in its short form, end to end: the report and its figures exist and hold up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from loadtests.deployments import ROOT

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def report(require_docker, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    subprocess.run(
        [sys.executable, "-m", "loadtests.compare", "--quick", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return out


def test_report_files_are_written(report):
    html = (report / "compare.html").read_text()
    assert html.count("data:image/png;base64,") >= 5  # curve, scaling, one per fault
    assert "<table>" in html
    summary = (report / "summary.md").read_text()
    assert "| max sustainable predictions/s" in summary
    assert "records lost" in summary


def test_results_hold_every_experiment(report):
    results = json.loads((report / "results.json").read_text())
    assert set(results["curve"]) == {"monolith", "micro"}
    for arch in ("monolith", "micro"):
        curve = results["curve"][arch]
        assert curve["max_sustainable_rps"] > 0
        assert curve["cpu_seconds_per_1000_predictions"] > 0
        assert set(results["scaling"][arch]) == {"1", "2"}
    assert {(f["deployment"], f["component"]) for f in results["faults"]} == {
        ("monolith", "monolith"),
        ("micro", "ingest"),
        ("micro", "inference"),
    }


def test_faults_lose_no_record_and_only_the_monolith_goes_dark(report):
    faults = {
        (f["deployment"], f["component"]): f
        for f in json.loads((report / "results.json").read_text())["faults"]
    }
    assert all(fault["records_lost"] == 0 for fault in faults.values())
    assert faults[("monolith", "monolith")]["routes"]["/v1/predict"]["success_rate"] < 0.1
    assert faults[("micro", "ingest")]["routes"]["/v1/predict"]["success_rate"] == 1.0
    assert faults[("micro", "inference")]["routes"]["/v1/predict"]["success_rate"] >= 0.99
    assert faults[("monolith", "monolith")]["time_to_recover_s"] > 0
