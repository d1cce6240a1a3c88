"""The experiments' arithmetic, on hand-made request logs."""

from collections import Counter

import pytest

from lab.experiments.analysis import (
    accepted_records,
    blast_radius,
    latency_by_route,
    missing,
    percentiles,
    rate_step,
    success_by_route,
    time_to_detect,
    time_to_recover,
)
from lab.experiments.budget import Budget, _count, generator_check
from lab.experiments.model_cost import crossover, overhead
from lab.load.locust import LocustRun, Request


def request(time: float, ok: bool = True, ms: float = 5.0, **extra) -> Request:
    return Request(time, extra.pop("route", "/v1/predict"), ok, ms, "id", 1, **extra)


def test_percentiles_come_from_an_hdr_histogram_of_every_latency():
    figures = percentiles(float(ms) for ms in range(1, 10_001))
    assert figures["p50_ms"] == pytest.approx(5_000, rel=0.002)
    assert figures["p99_ms"] == pytest.approx(9_900, rel=0.002)
    assert figures["p999_ms"] == pytest.approx(9_990, rel=0.002)
    assert figures["samples"] == 10_000


def test_a_percentile_from_too_few_samples_is_not_quoted():
    """A p99 needs 1,000 samples and a p99.9 10,000: below that each is null, not the max."""
    figures = percentiles(float(ms) for ms in range(1, 1001))
    assert figures["p99_ms"] == pytest.approx(990, rel=0.002)
    assert figures["p999_ms"] is None
    few = percentiles(float(ms) for ms in range(1, 999))
    assert (few["p99_ms"], few["samples"]) == (None, 998)
    assert few["p50_ms"] == pytest.approx(499, rel=0.01)
    assert percentiles([]) == {"p50_ms": None, "p99_ms": None, "p999_ms": None, "samples": 0}


def test_a_rate_step_counts_intended_achieved_and_late_requests_in_its_window():
    log = [request(10 + i / 1000, ok=i % 10 != 0, ms=20.0) for i in range(2000)]  # 1 in 10 fails
    log += [request(10.05, late_ms=50.0), request(12.5)]  # late; outside the window
    step = rate_step(log, offered=1000, start=10.0, end=12.0)
    assert step["intended_rps"] == 1000.5
    assert step["achieved_rps"] == 900.5
    assert step["success"] == pytest.approx(1801 / 2001, abs=1e-4)
    assert step["late_share"] == pytest.approx(1 / 2001, abs=1e-4)
    assert step["p99_ms"] == pytest.approx(20.0, rel=0.01)


def test_success_per_route_is_answered_over_intended_and_names_the_blast_radius():
    log = [request(1, route="/v1/predict", ok=i < 3) for i in range(4)]
    log += [request(1, route="/v1/model") for _ in range(2)]
    routes = success_by_route(log)
    assert routes["/v1/predict"]["success"] == 0.75
    assert routes["/v1/model"]["success"] == 1.0
    assert blast_radius(routes) == ["/v1/predict"]


def test_accepted_records_count_each_acknowledged_record_by_request():
    log = [
        Request(1, "/v1/predict", True, 5, "single", 1),
        Request(1, "/v1/predict/batch", True, 5, "batch", 3),
        Request(1, "/v1/predict", False, 5, "failed", 1),
        Request(1, "/v1/model", True, 5, "", 0),
    ]
    assert accepted_records(log) == {"single": 1, "batch": 3}


def test_a_missing_record_is_counted_even_when_another_request_has_extra():
    accepted = Counter({"single": 1, "batch": 3})
    assert missing(accepted, Counter({"single": 1, "batch": 3})) == 0
    assert missing(accepted, Counter({"single": 2, "batch": 2})) == 1  # extras don't cancel
    assert missing(accepted, Counter()) == 4


def test_detection_is_the_first_not_ready_after_the_fault():
    assert time_to_detect([(9.0, "degraded"), (10.4, "not ready")], start=10.0) == 0.4
    assert time_to_detect([(10.4, "ready")], start=10.0) is None


def test_recovery_waits_for_the_first_success_to_complete():
    # Undone at t=10; failures until 10.2; the next request is held 0.8 s (model loading).
    log = [request(9.5, False), request(10.2, False), request(10.3, ms=800), request(11.2)]
    assert time_to_recover(log, [(10.5, "not ready"), (11.0, "ready")], end=10.0) == 1.1


def test_recovery_is_read_from_a_sliding_window_not_from_a_stray_failure():
    # 40 calls a second from the undoing at t=10: failing for a second, then answered, with
    # one stray failure at t=25 (the last failure would put recovery at 15 s).
    log = [request(10 + n / 40, ok=not (n < 40 or n == 600)) for n in range(1200)]
    assert time_to_recover(log, [(10.5, "not ready"), (10.8, "ready")], end=10.0) == pytest.approx(
        1.005, abs=0.01
    )
    # A lone answer among failures is no recovery: its window is under 99% answered.
    flapping = [request(10 + n / 40, ok=(n == 20 or n >= 200)) for n in range(400)]
    assert time_to_recover(flapping, [], end=10.0) == pytest.approx(5.005, abs=0.01)


def test_recovery_also_waits_for_readiness():
    log = [request(10.1)]
    assert time_to_recover(log, [(10.2, "unreachable"), (12.0, "ready")], end=10.0) == 2.0


def test_no_recovery_while_still_failing():
    assert time_to_recover([request(10.5, False)], [(11.0, "ready")], end=10.0) is None
    assert time_to_recover([request(10.5)], [(11.0, "not ready")], end=10.0) is None


def test_the_generator_is_kept_apart_and_a_saturated_one_invalidates_its_run():
    budget = Budget("0", "1-3", shared=False)
    assert _count("1-3") == 3
    assert _count("0,2,4-5") == 4
    calm = LocustRun([request(1)] * 99 + [request(1, late_ms=50.0)], 3.0, seconds=10)
    assert generator_check(calm, budget) == {
        "cpu_share": 0.3,
        "steal_share": None,
        "late_share": 0.01,
        "valid": True,
    }
    busy = LocustRun([request(1)], 9.5, seconds=10)
    assert generator_check(busy, budget)["valid"] is False
    lagging = LocustRun([request(1, late_ms=50.0)] * 2 + [request(1)] * 98, 1.0, seconds=10)
    assert generator_check(lagging, budget)["valid"] is False


def point(model_us: float, monolith: float, micro: float) -> dict:
    return {"model_us": model_us} | overhead(
        {"capacity_rps": monolith, "p99_ms": 10.0}, {"capacity_rps": micro, "p99_ms": 20.0}
    )


def test_overhead_is_the_microservices_over_the_monolith():
    assert point(40, 400, 100) == {
        "model_us": 40,
        "monolith_rps": 400,
        "micro_rps": 100,
        "capacity_ratio": 0.25,
        "p99_ratio": 2.0,
    }


def test_the_crossover_is_measured_when_a_model_gets_there():
    points = [point(40, 1000, 200), point(20_000, 40, 35)]
    assert crossover(points) == {"model_us": 20_000, "extrapolated": False}


def test_the_crossover_is_extrapolated_from_the_cpu_each_request_costs():
    # 1 / capacity grows with the model's cost m (in µs) from each one's fixed cost per
    # request: monolith 1,000 µs + m, microservices 5,000 µs + m (capacity = 1e6 / cost).
    points = [point(m, 1e6 / (1_000 + m), 1e6 / (5_000 + m)) for m in (40, 110, 400)]
    found = crossover(points)
    assert found["extrapolated"] is True
    # (1000 + m) / (5000 + m) = 0.8  =>  m = 15,000 µs
    assert found["model_us"] == pytest.approx(15_000, rel=0.01)


def test_latency_is_per_route_a_batch_never_mixed_into_a_single_prediction():
    log = [request(1, ms=5.0) for _ in range(1000)]
    log += [request(1, route="/v1/predict/batch", ms=400.0) for _ in range(100)]
    log += [request(1, route="/v1/model", ms=1.0)]
    routes = latency_by_route(log)
    assert set(routes) == {"/v1/predict", "/v1/predict/batch"}
    assert routes["/v1/predict"]["p99_ms"] == pytest.approx(5.0, rel=0.01)  # mixed: 400
    assert routes["/v1/predict/batch"]["samples"] == 100
    step = rate_step(log, offered=1100, start=0.0, end=2.0)
    assert (step["route"], step["samples"], step["p99_ms"]) == ("/v1/predict", 1000, 5.0)
