"""results.json's schema, and the report written from results that follow it."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from lab.bench import hops
from lab.experiments import split_when
from lab.experiments.capacity import summarise
from lab.experiments.cost import fit
from lab.experiments.plan import ARCHES
from lab.experiments.report import rewrite_reports, summary_markdown, write_reports
from lab.stats import ratio_interval
from runtimes.paths import ROOT

SCHEMA = json.loads((ROOT / "lab" / "experiments" / "results.schema.json").read_text())
GENERATOR = {"cpu_share": 0.3, "late_share": 0.0, "steal_share": 0.01, "valid": True}


def trial(rate: float, passed: bool) -> dict:
    return {
        "offered_rps": rate,
        "intended_rps": rate,
        "achieved_rps": rate if passed else rate * 0.8,
        "success": 1.0 if passed else 0.7,
        "late_share": 0.0,
        "route": "/v1/predict",
        "p50_ms": 2.0 if passed else 900.0,
        "p99_ms": 9.0 if passed else 4000.0,
        "p999_ms": None,
        "samples": 1200,
        "window_s": 30.0,
        "calls": 1200,
        "within_slo": 1200 if passed else 800,
        "generator": {**GENERATOR, "expected_calls": 1200, "on_schedule": True},
        "verdict": "pass" if passed else "fail",
    }


def loop_case(users: int, think: float, rate: float, closed_p99: float, open_p99: float) -> dict:
    def routes(p99: float) -> dict:
        latency = {"p50_ms": 3.0, "p99_ms": p99, "p999_ms": None, "samples": 2400}
        return {"/v1/predict": latency, "/v1/predict/batch": {**latency, "samples": 240}}

    return {
        "users": users,
        "think_seconds": think,
        "closed": {"achieved_rps": rate, "routes": routes(closed_p99), "generator": GENERATOR},
        "open": {
            "offered_rps": rate,
            "achieved_rps": rate - 1,
            "routes": routes(open_p99),
            "generator": GENERATOR,
        },
    }


def found(capacity_rps: float, top: float | None = None) -> dict:
    """A search that bracketed `capacity_rps` (or, with no `top`, never failed up to it)."""
    tried = [(50.0, True), (capacity_rps, True)] + ([(top, False)] if top else [])
    return {
        "capacity_rps": capacity_rps,
        "censored": None if top else "above",
        "bracket": [capacity_rps, top],
        "tried": [list(t) for t in tried],
        "limited_by": None,
        "trials": [trial(rate, passed) for rate, passed in tried],
        "method": METHOD,
    }


METHOD = {
    "slo_ms": 250,
    "settle_seconds": 1,
    "measure_seconds": 2,
    "calls": 400,
    "timeout_seconds": 2,
    "start": 50,
    "limit": 800,
    "floor": 10,
    "resolution": 0.25,
}


FAULT_RUN_KEYS = ("deployment", "resilience", "fault", "replicas", "load", "offered_rps", "repeat")


def fault(
    deployment: str,
    label: str,
    resilience: bool = True,
    load: tuple[str, float, int] = ("absolute", 30.0, 1),  # kind, offered rate, repeat
    **routes: float,
) -> dict:
    return {
        "deployment": deployment,
        "resilience": resilience,
        "fault": label,
        "replicas": {"monolith": 2}
        if deployment == "monolith"
        else {"gateway": 2, "features": 2, "inference": 2},
        "load": load[0],
        "offered_rps": load[1],
        "repeat": load[2],
        "routes": {
            route: {"success": success, "p99_ms": 12.0, "intended": 100}
            for route, success in (routes or {"/v1/predict": 1.0}).items()
        },
        "blast_radius": [route for route, success in routes.items() if success < 0.99],
        "time_to_detect_s": 0.4,
        "time_to_recover_s": 1.2,
        "records_lost": 0,
        "timeline": {"ok": [10, 10, 0, 10], "failed": [0, 0, 10, 0]},
        "fault_window_s": [1.0, 3.0],
        "generator": GENERATOR,
    }


def deploy(deployment: str, deploy: str, failed: int = 0, refused: bool = False) -> dict:
    """One rollout under load, as deploys.deploy_run reports it."""
    routes = {"/v1/predict": {"success": 1 - failed / 400, "p99_ms": 40.0, "intended": 400}}
    single = {"p50_ms": 6.0, "p99_ms": None, "p999_ms": None, "samples": 400}
    return {
        "deployment": deployment,
        "deploy": deploy,
        "repeat": 1,
        "offered_rps": 30.0,
        "refused": refused,
        "seconds": 12.5,
        "healthy_after_s": None if refused else 3.1,
        "routes": routes,
        "blast_radius": ["/v1/predict"] if failed > 4 else [],
        "failed": failed,
        "failed_in_run": failed,
        "latency_before": {"/v1/predict": single},
        "latency_during": {"/v1/predict": {**single, "p99_ms": 48.0, "samples": 1200}},
        "version_after": "195e895dd0b6" if refused else "9d047ae09726",
        "records_lost": 0,
        "timeline": {"ok": [30] * 20, "failed": [0] * 20},
        "window_s": [2.0, 14.5],
        "generator": GENERATOR,
    }


def generator_figures(p50_ms: float) -> dict:
    return {
        "calls": 4500,
        "achieved_rps": 150.0,
        "success": 1.0,
        "p50_ms": p50_ms,
        "p99_ms": p50_ms * 3,
        "samples": 4500,
        "held": True,
        "generator_cpu_share": 0.2,
    }


def hop_tax() -> dict:
    """Both wirings' split, as lab/bench/hops.py summarises it, from made-up parts (ms)."""

    def wiring(parts: dict[str, float], untraced: float, cpu: dict[str, float]) -> dict:
        latency = sum(parts.values())
        return {
            "sent": 100,
            "split": 100,
            "rounds": 2,
            "latency_ms": hops.figure([latency, latency]),
            "untraced_latency_ms": hops.figure([untraced, untraced]),
            "parts_ms": {part: hops.figure([ms, ms]) for part, ms in parts.items()},
            "attributed": hops.figure([1 - parts[hops.UNSEEN] / latency] * 2),
            "cpu_ms_per_prediction": {
                name: {"ms_per_record": ms, "ms_per_record_interval": [ms * 0.9, ms * 1.1]}
                for name, ms in cpu.items()
            },
        }

    shared = {hops.EDGE: 0.1, hops.PARSE: 0.1, hops.COMPUTE: 0.5, hops.COMMIT: 1.0}
    hop = {
        hops.HOP_CLIENT: 2.0, hops.HOP_ENCODE: 0.05, hops.HOP_WIRE: 5.0, hops.HOP_DECODE: 0.3,
        hops.HOP_SERVE: 4.0, hops.HOP_ANSWER: 0.1,
    }  # fmt: skip
    return {
        "rate": 40,
        "seconds": 8,
        "wirings": {
            "monolith": wiring(
                {**shared, hops.RESPOND: 1.0, hops.UNSEEN: 0.1}, 2.5, {"monolith": 3.0, "all": 3.3}
            ),
            "micro": wiring(
                {**shared, **hop, hops.RESPOND: 1.0, hops.UNSEEN: 0.2},
                10.0,
                {"gateway": 5.0, "all": 11.0},
            ),
        },
    }


@pytest.fixture
def results() -> dict:
    def cost(ms_per_record: float, containers: dict[str, float]) -> dict:
        """A deployment whose containers each cost this many ms per record, on 0.01 CPU of
        background: the regression of made-up points recovers them."""
        rates = [20.0, 40.0, 60.0]

        def regression(mix: str, scale: float) -> dict:
            points = [
                {
                    "offered_rps": rate / scale,
                    "window_s": 30.0,
                    "records_per_second": rate,
                    "utilization": {n: 0.01 + rate * ms / 1000 for n, ms in containers.items()},
                    "generator": GENERATOR,
                }
                for rate in rates
            ]
            fits = {n: fit(rates, [p["utilization"][n] for p in points]) for n in containers}
            total = fit(rates, [sum(p["utilization"].values()) for p in points])
            return {
                "mix": mix,
                "points": points,
                "total": total,
                "containers": fits,
                "bottleneck": max(containers, key=containers.get),
            }

        assert sum(containers.values()) == ms_per_record
        return {
            "single": regression("single", 1),
            "batch": regression("batch", 50),
            "memory_mb": 300.0,
            "containers": len(containers),
        }

    model_run = {"capacity_rps": 100.0, "censored": None, "p99_ms": 9.0, "p99_at_rps": 50}
    monolith = [found(300, 310), found(290, 300), found(310, 320)]
    micro = [found(80, 83), found(100, 104), found(120, 125)]
    hybrid = [found(190, 196), found(200, 206), found(210, 216)]
    return {
        "command": "make compare QUICK=1",
        "started": "2026-11-26 15:00 UTC",
        "finished": "2026-11-26 15:06 UTC",
        "machine": {"cpus": 2, "memory_gb": 23.5, "kernel": "6.18", "python": "3.11.7"},
        "budget": {
            "generator_cpus": "0",
            "deployment_cpus": "1",
            "deployment_memory_mb": 1536,
            "shared": False,
        },
        "plan": {
            "repeats": 3,
            "warm_up_seconds": 3,
            "capacity": METHOD,
            "fault_rate": 30,
            "cost_shares": [0.25, 0.5, 0.75],
            "cost_seconds": 3,
        },
        "experiments": [
            "calibration",
            "crosscheck",
            "capacity",
            "cost",
            "loops",
            "faults",
            "scaling",
            "model_cost",
            "hops",
            "deploys",
        ],
        # The generator held 100/s and 200/s against the null endpoint, not 400/s.
        "calibration": [
            trial(100, True),
            trial(200, True),
            {**trial(400, True), "generator": {**trial(400, True)["generator"], "valid": False}},
        ],
        "crosscheck": {
            "steps": [
                {
                    "offered_rps": rate,
                    "locust": generator_figures(p50 - 1),
                    "locust_per_call": generator_figures(p50),
                    "httperf": generator_figures(other),
                    "agree": other - p50 < 1.5,
                }
                for rate, p50, other in ((150.0, 4.2, 5.0), (300.0, 6.1, 19.0))
            ]
        },
        "capacity": {
            "monolith": summarise(monolith),
            "micro": summarise(micro),
            "hybrid": summarise(hybrid),
            "monolith_over_micro": ratio_interval(
                [s["capacity_rps"] for s in monolith], [s["capacity_rps"] for s in micro]
            ),
            "monolith_over_hybrid": ratio_interval(
                [s["capacity_rps"] for s in monolith], [s["capacity_rps"] for s in hybrid]
            ),
        },
        "cost": {
            "monolith": cost(1.0, {"p-edge-1": 0.2, "p-monolith-1": 0.8}),
            "micro": cost(4.0, {"p-edge-1": 0.2, "p-gateway-1": 1.6, "p-inference-1": 2.2}),
            "hybrid": cost(1.5, {"p-edge-1": 0.25, "p-hybrid-1": 0.75, "p-inference-1": 0.5}),
        },
        "loops": {
            "saturated": loop_case(8, 0.0, 150.0, closed_p99=20.0, open_p99=900.0),
            "moderate": {
                **loop_case(49, 0.5, 97.0, closed_p99=9.0, open_p99=14.0),
                "target_share": 0.65,
                "share": 0.647,
            },
        },
        "scaling": {
            "monolith": [
                {"configuration": "1 replica(s)", "replicas": {"monolith": 1}, **found(300.0, 310)},
                {"configuration": "2 replica(s)", "replicas": {"monolith": 2}, **found(250.0, 260)},
            ],
            "micro": [
                {"configuration": "one of each", "replicas": {}, **found(100.0, 104)},
                {"configuration": "2 gateways", "replicas": {"gateway": 2}, **found(110.0, None)},
            ],
        },
        "faults": [
            fault("monolith", "kill monolith", **{"/v1/predict": 0.0, "/v1/model": 0.0}),
            *(
                fault(
                    "monolith",
                    "kill monolith",
                    True,
                    ("relative", 150.0, repeat),
                    **{"/v1/predict": answered},
                )
                for repeat, answered in ((1, 0.9), (2, 0.99), (3, 0.95))
            ),
            {
                **fault("micro", "pause ingest", True, ("relative", 40.0, 1)),
                "calls_per_single": 0.8,
            },
            fault("micro", "pause ingest", **{"/v1/predict": 1.0}),
            fault("micro", "pause ingest", False, **{"/v1/predict": 0.2}),
            {
                **{key: fault("micro", "latency features")[key] for key in FAULT_RUN_KEYS},
                "error": "FaultUnavailableError: no netem",
            },
        ],
        "model_cost": {
            "models": {"logistic regression": {"monolith": model_run, "micro": model_run}},
            "points": [
                {
                    "model": "logistic regression",
                    "model_us": 40.0,
                    "monolith_rps": 300.0,
                    "micro_rps": 100.0,
                    "capacity_ratio": 0.33,
                    "p99_ratio": 2.0,
                },
                {
                    "model": "neural network, width 1024",
                    "model_us": 110.0,
                    "monolith_rps": 250.0,
                    "micro_rps": 95.0,
                    "capacity_ratio": 0.38,
                    "p99_ratio": 1.8,
                },
            ],
            "crossover": {"model_us": 15_000.0, "extrapolated": True},
        },
        "hops": hop_tax(),
        "deploys": [
            deploy("monolith", "a new version"),
            deploy("micro", "a new version"),
            deploy("monolith", "a model that does not load", failed=6, refused=True),
            deploy("micro", "a model that does not load", refused=True),
        ],
    }


def test_results_of_the_documented_shape_pass_the_schema(results):
    jsonschema.validate(results, SCHEMA)


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.pop("experiments"),
        lambda r: r["faults"][0].pop("records_lost"),
        lambda r: r["faults"][0].pop("repeat"),
        lambda r: r["crosscheck"]["steps"][0]["httperf"].pop("held"),
        lambda r: r["crosscheck"]["steps"][0].pop("locust_per_call"),
        lambda r: r["crosscheck"]["steps"][0].update(agree="maybe"),
        lambda r: r["faults"][0].pop("load"),
        lambda r: r["capacity"]["micro"]["capacity_rps"].pop("flagged"),
        lambda r: r["capacity"]["monolith"]["runs"][0]["trials"][0].update(p99_ms=-1),
        lambda r: r["capacity"]["micro"]["runs"][0].pop("censored"),
        lambda r: r["capacity"]["micro"].update(reads="about"),
        lambda r: r["faults"][0].update(deployment="mainframe"),
        lambda r: r["model_cost"].pop("crossover"),
        lambda r: r["loops"]["moderate"].pop("share"),
        lambda r: r["loops"]["saturated"]["open"]["routes"].update({"/v1/model": {}}),
        lambda r: r["capacity"]["micro"]["runs"][0]["trials"][0].pop("route"),
        lambda r: r["capacity"]["micro"]["runs"][0]["trials"][0]["generator"].update(
            steal_share="x"
        ),
        lambda r: r["loops"]["moderate"]["open"].update(offered_rps="fast"),
        lambda r: r["deploys"][0].pop("version_after"),
        lambda r: r["deploys"][0].update(deploy="a hotfix"),
    ],
)
def test_the_schema_refuses_results_that_miss_what_the_report_needs(results, damage):
    damaged = copy.deepcopy(results)
    damage(damaged)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(damaged, SCHEMA)


def test_the_summary_states_budgets_spreads_faults_and_conclusions(results):
    summary = summary_markdown(results)
    assert "on CPU(s) 1, 1536 MiB" in summary
    assert "generator (Locust, open loop" in summary
    assert "100.0 [80.0, 120.0; 75%] (80.0 to 120.0, n=3) ⚠ interval over ±15%" in summary
    assert "capacity, monolith ÷ microservices, paired by block (n=3) | 3.04 [" in summary
    best = "| capacity, microservices as 2 gateways (same CPU set) ← best split |  | ≥ 110 |  |"
    assert best in summary
    assert "capacity, monolith ÷ hybrid, paired by block (n=3) | 1.50 [" in summary
    assert "| monolith | microservices | hybrid |" in summary
    assert (
        "| monolith | kill monolith | on | 30/s (the same for every wiring) | single run | 0.0% |"
        in (summary)
    )
    # Three repeats at half of each one's capacity: one row, their median (min to max).
    assert (
        "| monolith | kill monolith | on | 150/s (50% of its single-prediction capacity) "
        "| 3 of 3 applied "
        "| 95.0% (90.0% to 99.0%) |" in summary
    )
    assert (
        "| microservices | pause ingest | off | 30/s (the same for every wiring) | single run "
        "| 20.0% |" in summary
    )
    assert "not applied: FaultUnavailableError" in summary
    # Half of the microservices' 100/s, in calls of the faults' mix (0.8 a single's worth).
    assert "40/s (50% of its capacity, in calls of the faults' mix by their CPU)" in summary
    assert "the monolith sustains 3.0 times the microservices' rate within the SLO (" in summary
    assert "; and 1.5 times the hybrid's rate within the SLO (" in summary
    assert "about 15.0 ms per prediction (by the lines fitted" in summary
    # The fault that could not be applied counted nothing: never passed off as 0 lost.
    assert "Records lost across every fault: 0 (1 fault run(s) could not be counted)." in summary
    # Each generator's row at each rate, and the rate where they parted named.
    assert (
        "| 300/s | httperf (a connection a call) | 4500 | 150/s | 100.0% | 19.00 ms | 57.00 ms "
        "| yes | no |" in summary
    )
    assert "| 300/s | Locust, as the lab runs it | 4500 | 150/s | 100.0% | 5.10 ms |" in summary
    assert "Locust and httperf, both with a connection a call, disagree at 300/s" in summary


def test_the_html_report_embeds_every_plot(results, tmp_path):
    write_reports(results, tmp_path)
    page = (tmp_path / "compare.html").read_text()
    assert (
        "With equal redundancy: monolith: monolith x2; "
        "microservices: features x2, gateway x2, inference x2." in page
    )
    # latency, loops, scaling, model cost, the hop tax, one timeline per applied fault and load
    assert page.count('class="plot"') == 5 + 5
    assert page.count("data:image/png;base64,") == 10
    assert "<h2>Two generators, one curve</h2>" in page
    assert (tmp_path / "summary.md").read_text() == summary_markdown(results)


def test_the_html_report_adds_the_swarm_results_measured_beside_it(results, tmp_path):
    scaling = [
        {"nodes": n, "deployment": d, "configuration": "c", "capacity_rps": rps}
        for n, d, rps in [(1, "monolith", 300), (2, "monolith", 250), (1, "micro", 50)]
    ]
    (tmp_path / "swarm.json").write_text(json.dumps({"scaling": scaling}))
    (tmp_path / "swarm.md").write_text("| micro | kill node-2 | 0 / 0 |\n")
    write_reports(results, tmp_path)
    page = (tmp_path / "compare.html").read_text()
    assert 'alt="capacity by node count"' in page
    assert page.count("data:image/png;base64,") == 10 + 1
    assert "| micro | kill node-2 | 0 / 0 |" in page


def test_cpu_per_record_is_the_slope_and_the_bottleneck_is_named(results):
    summary = summary_markdown(results)
    assert "| CPU per single prediction, marginal (ms; regression over rates) | 1.000 [" in summary
    assert "| bottleneck container (largest CPU per single prediction) | monolith (0.800 ms) |" in (
        summary
    )
    assert "inference (2.200 ms)" in summary
    assert "costs the microservices 4.0 times the monolith's CPU" in summary
    assert "costs the hybrid 1.5 times the monolith's CPU" in summary


def test_steal_time_is_stated_and_a_trial_it_took_from_is_named(results):
    assert "Steal time in the capacity trials' windows: median 1.0%" in summary_markdown(results)
    assert "the hypervisor took" not in summary_markdown(results)
    robbed = results["capacity"]["micro"]["runs"][0]["trials"][-1]
    robbed["generator"]["steal_share"] = 0.12
    jsonschema.validate(results, SCHEMA)
    summary = summary_markdown(results)
    assert "at most 12.0%" in summary
    assert f"{robbed['offered_rps']:g}/s: the hypervisor took 12.0%" in summary


def test_loops_report_each_case_and_route_apart(results):
    summary = summary_markdown(results)
    assert "moderate (49 users thinking 0.5 s, 64.7% of saturated)" in summary
    assert "the closed loop reports a p99 of 9.0 ms, the open loop 14.0 ms" in summary
    assert "20.0 ms against 900.0 ms" in summary
    batch_rows = [line for line in summary.splitlines() if "| /v1/predict/batch |" in line]
    assert len(batch_rows) == 2
    assert all(row.endswith("| 240 / 240 |") for row in batch_rows)


def test_the_swarm_run_rewrites_a_compare_report_of_this_schema_only(results, tmp_path):
    assert "run make compare" in rewrite_reports(tmp_path)
    older = copy.deepcopy(results)
    older["loops"] = {"closed": {}, "open": {}}  # the shape before the two cases
    (tmp_path / "results.json").write_text(json.dumps(older))
    assert "of an older lab" in rewrite_reports(tmp_path)
    assert not (tmp_path / "compare.html").exists()
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert rewrite_reports(tmp_path) is None
    assert (tmp_path / "summary.md").read_text() == summary_markdown(results)


def test_the_capacity_comparison_says_when_runs_cannot_tell_the_two_apart(results):
    assert "tell the two apart" not in summary_markdown(results)  # 3 blocks, apart
    one_run = copy.deepcopy(results)
    for arch in ARCHES:
        one_run["capacity"][arch] = summarise(one_run["capacity"][arch]["runs"][:1])
    assert "from too few runs for an interval: these runs cannot tell" in summary_markdown(one_run)
    close = copy.deepcopy(results)
    close["capacity"]["micro"]["capacity_rps"]["interval"] = [90.0, 500.0]
    assert "their capacity intervals overlap" in summary_markdown(close)


def test_the_generators_calibration_is_tabled_and_bounds_what_it_held(results):
    summary = summary_markdown(results)
    assert "| offered | calls (due) | late | generator CPU | steal | p50 | p99 | held |" in summary
    assert "| 400/s | 1200 (1200) | 0.0% | 30.0% | 1.0% | 2.00 ms | 9.00 ms | no |" in summary
    assert (
        "Against the edge's null endpoint the generator was shown to hold up to 200/s, not "
        "400/s (one trial each)" in summary
    )
    results["calibration"][2]["generator"]["valid"] = True
    assert "hold every rate tried, up to 400/s" in summary_markdown(results)
    results["calibration"][1]["verdict"] = "fail"  # answered by the app, not the edge
    assert "shown to hold up to 100/s, not 200/s" in summary_markdown(results)
    results["calibration"][0]["generator"]["valid"] = False
    assert "could not hold 100/s even against the edge's null endpoint" in summary_markdown(results)


def test_a_fault_s_timelines_at_two_loads_are_told_apart(monkeypatch):
    from lab.experiments import report

    titles = []
    monkeypatch.setattr(report, "png", lambda figure: titles.append(figure.axes[0].get_title()))
    report.fault_plot(fault("monolith", "kill monolith"))
    report.fault_plot(fault("monolith", "kill monolith", load=("relative", 100.0, 1)))
    assert titles[0] != titles[1]
    assert titles[1].endswith("relative load 100/s")


def test_the_hop_tax_is_tabled_part_by_part_and_its_largest_parts_named(results):
    summary = summary_markdown(results)
    assert "| hop tax, monolith / micro: mean latency traced, ms | 2.80 / 14.35 |" in summary
    assert f"| — {hops.HOP_WIRE}, ms | - / 5.00 |" in summary
    assert "| — predictions split, of those sent | 100 of 100 / 100 of 100 |" in summary
    assert "| — share of the latency attributed (1 less |unattributed| over the latency) " in (
        summary
    )
    assert "| 96.4% / 98.6% |" in summary
    assert (
        "| — CPU per prediction at this rate above idle, gateway, ms (95% interval) "
        "| - / 5.00 (4.50 to 5.50) |" in summary
    )
    # The statements follow the figures: the gap, the largest hop parts, the payloads' share,
    # and how much tracing itself added to each wiring.
    assert "hops add 7.5 ms to a prediction's mean latency at 40/s (10.0 against 2.5 ms)" in (
        summary
    )
    assert f"the largest {hops.HOP_WIRE.removeprefix('hop: ')} (5.0 ms) and " in summary
    assert "encoding, decoding and validation are 0.45 ms of it (4%)" in summary
    assert "Tracing itself adds 4.3 ms to the microservices' mean and 0.3 ms" in summary


def test_a_hop_tax_not_measured_says_why_and_tables_nothing(results):
    results["hops"] = {"error": "no haproxy here"}
    jsonschema.validate(results, SCHEMA)
    summary = summary_markdown(results)
    assert "The hop tax was not measured: no haproxy here" in summary
    assert "hop tax, monolith / micro" not in summary


def test_deploys_are_tabled_per_rollout_and_their_blast_radius_told(results):
    summary = summary_markdown(results)
    assert (
        "| a new version | monolith | 30 | 12.5 | 0 of 400 | none | n/a / 48 | 9d047ae09726 | 0 |"
        in summary
    )
    refused = (
        "| a model that does not load | monolith | 30 | 12.5 (refused) | 6 of 400 | /v1/predict |"
    )
    assert refused in summary
    assert (
        "Rolling out a model that does not load under load: monolith failed 6 of 400 calls in "
        "12.5 s, refused; micro failed 0 of 400 calls in 12.5 s, refused." in summary
    )


def test_each_line_of_the_verdict_names_the_figure_this_run_measured_for_it(results):
    summary = summary_markdown(results)
    for line in (
        "| stay in one process for throughput on one host | capacity within the SLO: monolith "
        "300/s, microservices 100/s, hybrid 200/s; CPU per single prediction: monolith 1.00 ms, "
        "microservices 4.00 ms, hybrid 1.50 ms | capacity, cost |",
        # the worst run of each fault, resilience on, and off beside it
        "worst run: monolith: kill monolith 0.0%; microservices: pause ingest 100.0% (20.0% "
        "with the stage client's resilience off) | faults |",
        "monolith failed 6 of 400 calls in 12.5 s, refused; micro failed 0 of 400",
        "kept 38% of the monolith's capacity at the heaviest model, 0.11 ms a prediction (33% "
        "at 0.04 ms); 80% at about 15.0 ms a prediction (extrapolated) | model_cost |",
        "microservices as 2 gateways ≥ 110 | scaling |",
        "the hops add 7.5 ms to a prediction's mean latency at 40/s (10.0 against 2.5 ms, "
        "untraced) | hops |",
    ):
        assert line in summary


def test_a_reason_whose_experiment_did_not_run_says_so_and_borrows_nothing(results):
    for experiment in ("faults", "model_cost", "scaling", "deploys"):
        del results[experiment]
    results["hops"] = {"error": "no haproxy here"}
    results["experiments"] = ["capacity", "cost"]
    measured = {row[2]: row[1] for row in split_when.rows(results)}
    assert measured.pop("capacity, cost").startswith("capacity within the SLO: monolith 300/s")
    assert set(measured.values()) == {split_when.NOT_MEASURED}
