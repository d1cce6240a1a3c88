"""`make compare`, in its short form, end to end: results that follow their schema, a report,
and figures that hold up."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from lab.bench.model_range import trained
from lab.experiments.deploys import NEW_VERSION
from lab.experiments.plan import ARCHES
from lab.experiments.report import fault_groups
from lab.experiments.split_when import NOT_MEASURED
from runtimes.paths import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]
SCHEMA = json.loads((ROOT / "lab" / "experiments" / "results.schema.json").read_text())


@pytest.fixture(scope="module")
def report(require_docker, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    started = subprocess.run(
        [sys.executable, "-m", "lab.experiments", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def results(report) -> dict:
    return json.loads((report / "results.json").read_text())


def test_results_follow_their_schema(results):
    jsonschema.validate(results, SCHEMA)


def test_the_report_has_every_section_and_plot(report, results):
    page = (report / "compare.html").read_text()
    # a timeline for each fault and load with a run applied
    timelines = [g for g in fault_groups(results["faults"]) if any("error" not in f for f in g)]
    assert page.count('class="plot"') == 5 + len(timelines)
    for heading in (
        "Capacity and cost",
        "Closed loop against open loop",
        "Scaling on one host",
        "<h2>Faults</h2>",
        "When do the microservices pay?",
        "The generator against a null endpoint",
        "Two generators, one curve",
        "The hop tax: where a prediction's time goes",
        "Deploys under load",
        "The verdict, line by line",
    ):
        assert heading in page
    summary = (report / "summary.md").read_text()
    assert NOT_MEASURED not in summary  # every reason of the verdict has its figure
    assert "Equal budgets" in summary
    assert "| capacity: offered/s with 99% answered within" in summary


def test_the_budget_kept_the_generator_apart_and_it_kept_up(results):
    assert results["budget"]["generator_cpus"] != results["budget"]["deployment_cpus"]
    for arch in ARCHES:
        for run in results["capacity"][arch]["runs"]:
            if run["limited_by"] is not None:
                # the generator fell behind where it could not tell a pass from a failure: the
                # figure is a bound ("at least"), or still bracketed by decided rates (on a
                # cold CI machine, an overloaded micro made it late between the two once)
                low, high = run["bracket"]
                assert run["censored"] == "above" or None not in (low, high), run
            # a rate the generator fell behind on (and that did not fail even with its late
            # calls counted good: an overloaded deployment makes it late) is never a figure:
            # the search says the generator limited it and goes on only below that rate
            for i, t in enumerate(run["trials"]):
                if not t["generator"]["valid"] and t["verdict"] != "fail":
                    assert run["limited_by"] == "generator", run
                    later = [u["offered_rps"] for u in run["trials"][i + 1 :]]
                    assert all(rate < t["offered_rps"] for rate in later), run["trials"]
                    assert t["offered_rps"] not in [r for r, _ in run["tried"]], run


def test_the_generator_held_its_lowest_rate_against_the_null_endpoint(results):
    """The edge answers the calibration's calls itself: every call the generator sent at a
    rate it held was a 200 within the SLO, and the lowest rate was held."""
    calibration = sorted(results["calibration"], key=lambda t: t["offered_rps"])
    assert [t["offered_rps"] for t in calibration] == sorted(results["plan"]["calibration_rates"])
    assert calibration[0]["generator"]["valid"], calibration[0]
    for t in calibration:
        if t["generator"]["valid"]:
            assert t["within_slo"] == t["calls"] > 0, t
            assert t["verdict"] == "pass", t


def test_a_second_generator_drew_the_same_rate_and_every_call_was_answered(results):
    """httperf and Locust (as the lab runs it, and with a connection a call) in turn at half
    the monolith's capacity: each sent what its schedule said, each call answered, and each
    quotes a median from the same kind of calls."""
    [step] = results["crosscheck"]["steps"]
    assert step["offered_rps"] > 0
    for name in ("locust", "locust_per_call", "httperf"):
        figures = step[name]
        assert figures["calls"] > 0, step
        assert figures["success"] == 1.0, step
        assert figures["p50_ms"] > 0, step
    assert step["httperf"]["held"], step


def test_every_call_due_in_a_trial_is_counted_and_the_search_brackets_capacity(results):
    """The drain keeps the calls in flight at a trial's end: each window holds the calls its
    schedule says were due (within Poisson's 4 standard deviations); and each search ends
    with its capacity between a passing and a failing rate, or says it is censored."""
    for arch in ARCHES:
        for run in results["capacity"][arch]["runs"]:
            for t in run["trials"]:
                expected = t["generator"]["expected_calls"]
                assert abs(t["calls"] - expected) <= 4 * expected**0.5 or t["verdict"] is None, t
            low, high = run["bracket"]
            assert run["censored"] or low < high


def test_capacity_and_cost_favour_the_monolith_on_one_host(results):
    capacity = {
        arch: results["capacity"][arch]["capacity_rps"]["median"] for arch in ("monolith", "micro")
    }
    assert capacity["monolith"] > capacity["micro"] > 0
    cost = results["cost"]
    cpu = {arch: cost[arch]["single"]["total"]["ms_per_record"] for arch in capacity}
    assert cpu["micro"] > cpu["monolith"] > 0
    assert cost["micro"]["containers"] > cost["monolith"]["containers"]
    # The hybrid, searched and costed beside them in the same blocks: the edge, the API and
    # the model tier.
    assert results["capacity"]["hybrid"]["capacity_rps"]["median"] > 0
    assert cost["hybrid"]["containers"] == 3
    assert cost["hybrid"]["single"]["total"]["ms_per_record"] > 0


def test_cpu_is_read_at_each_rate_and_names_a_bottleneck(results):
    """Every container's CPU was read at each rate's window edges: utilization grows with the
    rate, and the split wirings' bottleneck is one of their stages, not the edge."""
    for arch in ARCHES:
        for mix in ("single", "batch"):
            points = results["cost"][arch][mix]["points"]
            assert len(points) >= 3
            busy = [sum(p["utilization"].values()) for p in points]
            assert busy[-1] > busy[0] > 0, points
    assert "edge" not in results["cost"]["micro"]["single"]["bottleneck"]
    assert "edge" not in results["cost"]["hybrid"]["single"]["bottleneck"]


def test_the_loops_run_at_saturation_and_at_a_moderate_load_per_route(results):
    loops = results["loops"]
    for case in ("saturated", "moderate"):
        closed, opened = loops[case]["closed"], loops[case]["open"]
        assert opened["offered_rps"] == closed["achieved_rps"] > 0, loops[case]
        for figures in (closed, opened):
            assert "/v1/predict" in figures["routes"], figures
            for latency in figures["routes"].values():  # a p99 from 1,000 samples, or none
                assert (latency["p99_ms"] is None) == (latency["samples"] < 1000), latency
    assert loops["saturated"]["think_seconds"] == 0
    moderate = loops["moderate"]
    assert moderate["think_seconds"] > 0
    # Thinking users load the server below flat out, near the share aimed at.
    assert 0.3 <= moderate["share"] <= 1.0, moderate


def test_faults_at_equal_redundancy_lose_nothing_and_resilience_keeps_answers(results):
    # Every fault run counted its records (a run that errored has none: never read as 0).
    lost = [f.get("records_lost") for f in results["faults"]]
    assert lost == [0] * len(lost), results["faults"]
    faults = {
        (f["deployment"], f["fault"], f["resilience"]): f
        for f in results["faults"]
        if f["load"] == "absolute"
    }
    # Equal relative load too: each at the plan's share of the capacity it was measured at in
    # this run (where that capacity is a figure, not a bound).
    for arch in ("monolith", "micro"):
        if results["capacity"][arch]["reads"] == "=":
            capacity = results["capacity"][arch]["capacity_rps"]["median"]
            relative = [
                f for f in results["faults"] if f["deployment"] == arch and f["load"] == "relative"
            ]
            assert relative, arch
            # in calls of the faults' own mix, by the CPU this run measured each to cost
            factor = relative[0]["calls_per_single"]
            assert factor is None or 0.2 < factor < 2, relative[0]
            rate = round(results["plan"]["fault_share"] * capacity * (factor or 1), 1)
            assert {(f["offered_rps"], f["resilience"]) for f in relative} == {(rate, True)}
    # Equal redundancy: one of two replicas killed, the other answers (the edge retries what
    # could not connect; a call in flight on the killed one is lost to it).
    killed = faults[("monolith", "kill monolith", True)]
    assert killed["replicas"] == {"monolith": 2}
    assert killed["routes"]["/v1/predict"]["success"] >= 0.9, killed["routes"]
    # (One of two inference replicas killed: test_container_micro, beside the full plan.)
    spooled = faults[("micro", "pause ingest", True)]
    assert spooled["replicas"] == {"gateway": 2, "features": 2, "inference": 2}
    assert spooled["routes"]["/v1/predict"]["success"] >= 0.99
    without = faults[("micro", "pause ingest", False)]
    assert without["routes"]["/v1/predict"]["success"] < spooled["routes"]["/v1/predict"]["success"]


def test_scaling_and_model_cost_were_measured(results):
    monolith, micro = results["scaling"]["monolith"], results["scaling"]["micro"]
    assert [row["replicas"] for row in monolith] == [{"monolith": 1}, {"monolith": 2}]
    assert [row["configuration"] for row in micro] == list(results["plan"]["micro_splits"])
    assert all(row["capacity_rps"] > 0 for row in monolith + micro)
    points = results["model_cost"]["points"]
    assert [p["model"] for p in points] == ["logistic regression", "neural network, width 1024"]
    assert points[1]["model_us"] > points[0]["model_us"]
    assert all(p["monolith_rps"] > 0 and p["micro_rps"] > 0 for p in points)


def test_the_report_renders_in_a_browser(report, results, browser):
    browser.get((report / "compare.html").as_uri())
    plots = browser.find_elements("css selector", "img.plot")
    applied = [f for f in results["faults"] if "error" not in f]
    assert len(plots) == 5 + len(applied)
    decoded = [browser.execute_script("return arguments[0].naturalWidth", plot) for plot in plots]
    assert all(width > 300 for width in decoded), decoded


def test_the_hop_tax_splits_every_traced_prediction_of_both_wirings(results):
    wirings = results["hops"]["wirings"]
    assert set(wirings) == {"monolith", "micro"}
    for name, wiring in wirings.items():
        assert wiring["split"] == wiring["sent"] > 0, name
        hop_parts = {part for part in wiring["parts_ms"] if part.startswith("hop:")}
        assert bool(hop_parts) == (name == "micro"), (name, hop_parts)


def test_a_new_model_version_rolls_out_in_each_wiring_losing_nothing(results):
    new = trained(NEW_VERSION).name.removeprefix("churn-")
    runs = {run["deployment"]: run for run in results["deploys"]}
    assert set(runs) == set(ARCHES)
    for arch, run in runs.items():
        assert "error" not in run, run
        assert not run["refused"], run
        assert (run["failed"], run["records_lost"]) == (0, 0), (arch, run["routes"])
        assert run["version_after"] == new, (arch, run["version_after"])
        assert 0 < run["healthy_after_s"] < run["seconds"], run
