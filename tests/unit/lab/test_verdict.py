"""make verdict's answer: a user's model put in place of ChurnLab's in each measured wiring,
capacity by the Utilization Law, the p99 through the queueing model, machines by equal shares,
and the wiring chosen."""

from __future__ import annotations

import pytest

from lab.verdict.answer import Model, Target, Wiring, capacity, judge, memory_bytes, nodes_needed

MB = 1_000_000
# Shaped as this machine measured them (make bench, 2026-12-07): CPU ms a request, cores used.
WIRINGS = {
    "monolith": Wiring(1.6, (1.5, 1.7), 1.6, 1.6, 300 * MB, 2),
    "micro": Wiring(7.5, (7.0, 8.0), 1.8, 8.4, 600 * MB, 2),
    "hybrid": Wiring(4.0, (3.8, 4.2), 1.8, 3.8, 450 * MB, 2),
}
OURS = Model(0.04, (0.035, 0.045), 0.01, 5 * MB)


def model(ms: float, mb: float = 5) -> Model:
    return Model(ms, (ms * 0.9, ms * 1.1), ms / 2, int(mb * MB))


def test_ours_in_its_own_place_gives_back_what_was_measured():
    assert capacity(WIRINGS["monolith"], OURS, OURS) == pytest.approx(1000 * 1.6 / 1.6)


def test_a_dearer_model_costs_every_wiring_the_same_extra_cpu():
    heavy = model(5.04)
    rows = judge(WIRINGS, OURS, heavy, Target(rate=10, slo_ms=1000))["wirings"]
    for name, wiring in WIRINGS.items():
        assert rows[name]["cpu_ms_per_request"] == pytest.approx(wiring.cpu_ms + 5)


def test_the_cheapest_wiring_that_serves_the_rate_on_one_machine_is_chosen():
    answer = judge(WIRINGS, OURS, model(0.5), Target(rate=300, slo_ms=100))
    assert answer["chosen"] == "monolith"
    assert answer["wirings"]["monolith"]["nodes_for_rate"] == 1
    low, high = answer["wirings"]["monolith"]["capacity_rps_interval"]
    assert low < answer["wirings"]["monolith"]["capacity_rps"] < high


def test_a_rate_past_one_machine_is_spread_over_the_fewest_machines_that_serve_it():
    answer = judge(WIRINGS, OURS, model(0.5), Target(rate=5_000, slo_ms=100))
    rows = answer["wirings"]
    assert rows["monolith"]["nodes_for_rate"] > 1
    assert rows["monolith"]["p99_ms_at_rate"] is None  # one machine would be saturated
    # micro costs about four times the CPU: it needs more machines than the monolith
    assert rows["micro"]["nodes_for_rate"] > rows["monolith"]["nodes_for_rate"]
    assert answer["chosen"] == "monolith"


def test_a_model_slower_than_the_objective_is_served_by_no_wiring():
    answer = judge(WIRINGS, OURS, model(80), Target(rate=1, slo_ms=50))
    assert answer["chosen"] is None
    assert {row["nodes_for_rate"] for row in answer["wirings"].values()} == {None}


def test_a_wiring_over_the_memory_budget_serves_nothing():
    big = model(0.5, mb=400)
    budget = 1_000 * MB  # the monolith's 300 MB and two copies of 395 more do not fit
    assert memory_bytes(WIRINGS["monolith"], OURS, big) == 1_090 * MB
    assert nodes_needed(WIRINGS["monolith"], OURS, big, Target(10, 100, budget)) is None
    roomier = Target(10, 100, 1_200 * MB)  # the monolith's 1,090 fit, the hybrid's 1,240 not
    answer = judge(WIRINGS, OURS, big, roomier)
    assert [name for name, row in answer["wirings"].items() if row["nodes_for_rate"]] == [
        "monolith"
    ]


def test_the_batching_bound_serves_more_of_a_model_that_batches_cheaper():
    heavy = model(4.0)
    rows = judge(WIRINGS, OURS, heavy, Target(rate=10, slo_ms=1000))["wirings"]
    assert rows["hybrid"]["capacity_rps_batched"] > rows["hybrid"]["capacity_rps"]
