"""make verdict's answer: each wiring measured serving two models of different cost, the user's
model read off the lines between them (said when outside them), the p99 through the queueing
model, machines by equal shares, and the wiring chosen."""

from __future__ import annotations

import math

import pytest

from lab.verdict.answer import (
    Model,
    Point,
    Target,
    Wiring,
    capacity,
    cpu_ms,
    judge,
    memory_bytes,
    nodes_needed,
    p99_ms,
)

MB = 1_000_000


def wiring(cheap: tuple[float, float, float], dear: tuple[float, float, float], mb: int) -> Wiring:
    """(CPU ms a request, requests/s, low-load ms) serving a 0.04 ms model holding 5 MB and a
    3.04 ms one holding 105 MB; the wiring holds `mb` with the first, two copies more with
    the second."""
    points = tuple(
        Point(model_ms, cpu, rps, (rps * 0.9, rps * 1.1), low, memory * MB, held * MB)
        for model_ms, (cpu, rps, low), memory, held in (
            (0.04, cheap, mb, 5),
            (3.04, dear, mb + 200, 105),
        )
    )
    return Wiring(points)


# Shaped as this machine measured them: the split wirings cost more CPU a request, by a margin
# that a dearer model does not close (each pays the model's cost once).
WIRINGS = {
    "monolith": wiring((1.6, 1000, 1.6), (4.6, 350, 4.7), 300),
    "micro": wiring((7.5, 240, 8.4), (10.5, 170, 11.5), 600),
    "hybrid": wiring((4.0, 450, 3.8), (7.0, 255, 6.9), 450),
}


def model(ms: float, mb: float = 5) -> Model:
    return Model(ms, (ms * 0.9, ms * 1.1), ms / 2, int(mb * MB))


def test_capacity_is_the_busy_cores_over_the_cpu_between_the_points():
    """Halfway in cost, the cores busy and the CPU are each halfway: the capacity is their
    ratio (the Utilization Law), not halfway between the capacities."""
    monolith = WIRINGS["monolith"]
    busy = (1.6 * 1000 + 4.6 * 350) / 2 / 1000
    assert cpu_ms(monolith, 1.54) == pytest.approx(3.1)
    assert capacity(monolith, 1.54) == pytest.approx(1000 * busy / 3.1)
    assert capacity(monolith, 1.54) != pytest.approx((1000 + 350) / 2)


def test_the_p99_of_a_quiet_wiring_is_near_its_low_load_latency_and_grows_with_the_rate():
    monolith = WIRINGS["monolith"]
    quiet, busy = p99_ms(monolith, 0.04, 1.0), p99_ms(monolith, 0.04, 900.0)
    assert 1.6 <= quiet < 10  # an exponential service's p99, a few times its 1.6 ms median
    assert busy > 3 * quiet
    assert math.isinf(p99_ms(monolith, 0.04, 1_100.0))  # past its 1,000/s


def test_a_model_between_the_two_measured_is_interpolated_and_one_past_them_is_not():
    between = judge(WIRINGS, model(1.0), Target(rate=10, slo_ms=1000))
    beyond = judge(WIRINGS, model(20.0), Target(rate=10, slo_ms=1000))
    assert not between["extrapolated"]
    assert beyond["extrapolated"]
    # the measured lines cost each request 1 ms of CPU per ms of model
    assert between["wirings"]["hybrid"]["cpu_ms_per_model_ms"] == pytest.approx(1.0)
    assert between["wirings"]["hybrid"]["cpu_ms_per_request"] == pytest.approx(4.96)


def test_the_cheapest_wiring_that_serves_the_rate_on_one_machine_is_chosen():
    answer = judge(WIRINGS, model(0.5), Target(rate=300, slo_ms=100))
    assert answer["chosen"] == "monolith"
    assert answer["wirings"]["monolith"]["nodes_for_rate"] == 1
    low, high = answer["wirings"]["monolith"]["capacity_rps_interval"]
    assert low < answer["wirings"]["monolith"]["capacity_rps"] < high


def test_a_rate_past_one_machine_is_spread_over_the_fewest_machines_that_serve_it():
    answer = judge(WIRINGS, model(0.5), Target(rate=5_000, slo_ms=100))
    rows = answer["wirings"]
    assert rows["monolith"]["nodes_for_rate"] > 1
    assert rows["monolith"]["p99_ms_at_rate"] is None  # one machine would be saturated
    assert rows["micro"]["nodes_for_rate"] > rows["monolith"]["nodes_for_rate"]
    assert answer["chosen"] == "monolith"


def test_a_model_slower_than_the_objective_is_served_by_no_wiring():
    answer = judge(WIRINGS, model(80), Target(rate=1, slo_ms=50))
    assert answer["chosen"] is None
    assert {row["nodes_for_rate"] for row in answer["wirings"].values()} == {None}


def test_memory_follows_the_line_through_what_each_wiring_held_with_each_model():
    """5 MB of model: the measured 300; 105 MB: 500; so 2 MB of wiring per MB of model."""
    assert memory_bytes(WIRINGS["monolith"], model(0.5, mb=55)) == 400 * MB


def test_a_wiring_over_the_memory_budget_serves_nothing():
    big = model(0.5, mb=400)
    budget = 1_000 * MB  # the monolith's 300 MB and two copies of 395 more do not fit
    assert memory_bytes(WIRINGS["monolith"], big) == 1_090 * MB
    assert nodes_needed(WIRINGS["monolith"], big, Target(10, 100, budget)) is None
    roomier = Target(10, 100, 1_200 * MB)  # the monolith's 1,090 fit, the hybrid's 1,240 not
    answer = judge(WIRINGS, big, roomier)
    assert [name for name, row in answer["wirings"].items() if row["nodes_for_rate"]] == [
        "monolith"
    ]


def test_the_batching_bound_serves_more_of_a_model_that_batches_cheaper():
    rows = judge(WIRINGS, model(2.0), Target(rate=10, slo_ms=1000))["wirings"]
    assert rows["hybrid"]["capacity_rps_batched"] > rows["hybrid"]["capacity_rps"]


def test_two_close_costs_drawn_apart_by_noise_still_charge_the_model_once_a_request():
    """A dearer model served faster than a cheaper one (noise, at 0.04 against 0.05 ms) would
    draw a line along which a heavy model costs nothing: the model's own cost is the floor."""
    noisy = wiring((1.6, 1000, 1.6), (1.55, 1050, 1.5), 300)
    noisy = Wiring(
        tuple(
            Point(cost, p.cpu_ms, p.rps, p.rps_interval, p.low_load_ms, p.memory_bytes, 5 * MB)
            for cost, p in zip((0.04, 0.05), noisy.points, strict=True)
        )
    )
    assert cpu_ms(noisy, 10.04) >= cpu_ms(noisy, 0.04) + 10
    assert 0 < capacity(noisy, 10.04) < capacity(noisy, 0.04)
    answer = judge({"monolith": noisy}, model(10.0), Target(rate=10, slo_ms=1000))
    assert answer["extrapolated"]
    assert answer["wirings"]["monolith"]["p99_ms_at_rate"] >= 10


def test_batching_measured_in_the_wirings_is_read_off_their_own_lines():
    """With each wiring measured with batching on, its capacity with batching is that line's at
    the user's model's cost, not the estimate from the model's batch cost."""
    batched = {
        name: Wiring(measured.points, least_model_share=1 / 3)
        for name, measured in {
            "monolith": wiring((1.6, 1000, 1.6), (3.0, 600, 3.0), 300),
            "micro": wiring((7.5, 240, 8.4), (9.0, 200, 10.0), 600),
            "hybrid": wiring((4.0, 450, 3.8), (5.0, 400, 4.5), 450),
        }.items()
    }  # a model's 3 ms costing a request 1.4, 1.5 and 1 ms: calls shared by up to 3
    theirs = model(3.04)
    answer = judge(WIRINGS, theirs, Target(rate=10, slo_ms=1000), batched=batched)
    assert answer["batching_measured"]
    for name, row in answer["wirings"].items():
        assert row["capacity_rps_batched"] == pytest.approx(batched[name].points[1].rps, rel=1e-3)
    estimated = judge(WIRINGS, theirs, Target(rate=10, slo_ms=1000))
    assert not estimated["batching_measured"]
    assert estimated["wirings"]["hybrid"]["capacity_rps_batched"] != pytest.approx(400, rel=0.01)


def test_a_batched_wiring_pays_at_least_its_measured_share_of_the_model():
    """Calls shared by 2 requests on average: however noise draws the line, each ms of model
    costs a request at least half a ms."""
    flat = wiring((1.6, 1000, 1.6), (1.7, 950, 3.0), 300)  # the model cost it next to nothing
    shared = Wiring(flat.points, least_model_share=0.5)
    assert cpu_ms(shared, 10.04) - cpu_ms(shared, 0.04) >= 5.0 - 1e-9
    assert cpu_ms(flat, 10.04) - cpu_ms(flat, 0.04) >= 10.0 - 1e-9
