"""When two generators are said to agree, and what the report says of it."""

from __future__ import annotations

import pytest

from lab.experiments.crosscheck import agree, conclusion, held_schedule, rows
from lab.load.httperf import HttperfRun


def figures(p50: float | None, p99: float | None = None, held: bool = True) -> dict:
    return {
        "calls": 3000,
        "achieved_rps": 100.0,
        "success": 1.0,
        "p50_ms": p50,
        "p99_ms": p99,
        "samples": 3000,
        "held": held,
        "generator_cpu_share": 0.1,
    }


@pytest.mark.parametrize(
    ("locust", "httperf", "verdict"),
    [
        (figures(4.2, 9.0), figures(5.0, 10.0), True),  # within the bin and a quarter
        (figures(4.2), figures(9.0), False),  # medians apart
        (figures(4.2, 9.0), figures(5.0, 30.0), False),  # tails apart
        (figures(4.2, None), figures(5.0, 30.0), True),  # a p99 only one quotes is not compared
        (figures(4.2, held=False), figures(5.0), None),  # Locust fell behind: no comparison
        (figures(4.2), figures(5.0, held=False), None),
    ],
)
def test_two_generators_agree_within_a_bin_and_a_quarter_when_both_held(locust, httperf, verdict):
    """Locust with a connection a call is held against httperf; Locust as the lab runs it
    (keeping its connections, so faster) is not."""
    kept = figures(1.0, held=False)
    assert agree({"locust": kept, "locust_per_call": locust, "httperf": httperf}) is verdict


def run(calls: int, seconds: float, errors: int = 0, slowest_ms: float = 0.0) -> HttperfRun:
    histogram = {0.0: calls - 1, slowest_ms: 1} if slowest_ms else {0.0: calls}
    return HttperfRun(100.0, seconds, calls, calls - errors, errors, histogram, 0.9)


def test_httperf_held_its_schedule_when_its_calls_took_about_their_poisson_time():
    # 3,000 gaps of 10 ms: 30 s, give or take 4 x 0.55 s, and the slowest call's time after.
    assert held_schedule(run(3000, 32.1), rate=100)
    assert not held_schedule(run(3000, 32.4), rate=100)  # behind by more than 4 sd
    assert held_schedule(run(3000, 32.4, slowest_ms=300.0), rate=100)  # a last slow answer
    assert not held_schedule(run(3000, 30.0, errors=2), rate=100)


def test_the_conclusion_names_the_rates_that_agreed_disagreed_and_were_not_compared():
    steps = [
        {"offered_rps": rate, "locust": figures(3), "locust_per_call": figures(4),
         "httperf": figures(other), "agree": verdict}
        for rate, other, verdict in ((100.0, 4, True), (200.0, 9, False), (300.0, 4, None))
    ]  # fmt: skip
    text = conclusion({"steps": steps})
    assert "disagree at 200/s" in text
    assert "Not compared at 300/s" in text
    assert "agree at 100/s" in conclusion({"steps": steps[:1]})
    # Locust's 4 ms against httperf's [3, 4) bin and [8, 9) bin: +0.5 and -4.5 ms.
    assert "Locust read -4.5 to +0.5 ms beside httperf (its bin's middle)." in text
    # Above by more than half a bin at every rate: the client's own time is named.
    above = [{**step, "httperf": figures(2)} for step in steps]  # [1, 2) ms: +2.5 ms
    assert "Locust read +2.5 ms beside httperf (its bin's middle): above it" in conclusion(
        {"steps": above}
    )
    assert len(rows({"steps": steps})) == 9  # a row per generator per rate
    assert "not cross-checked: no httperf" in conclusion({"error": "no httperf"})
