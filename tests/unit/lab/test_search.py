"""Capacity by search, driven by made-up services whose true capacity is known."""

from __future__ import annotations

import pytest

from lab.experiments.search import CapacitySearch, search


def service(capacity: float):
    return lambda rate: rate <= capacity


@pytest.mark.parametrize("true_capacity", [37.0, 120.0, 333.0, 999.0])
def test_the_search_brackets_the_true_capacity_within_five_percent(true_capacity):
    found = search(service(true_capacity), start=25, limit=5000)
    low, high = found["bracket"]
    assert found["censored"] is None
    assert low <= true_capacity < high
    assert (high - low) <= 0.05 * low
    assert found["capacity_rps"] == low


def test_a_search_that_never_fails_is_at_least_its_top():
    found = search(service(10_000), start=100, limit=800)
    assert found["censored"] == "above"
    assert found["capacity_rps"] == 800
    assert found["bracket"] == [800, None]


def test_a_search_whose_lowest_rate_fails_is_below_it():
    found = search(service(0.5), start=8, limit=800)
    assert found["censored"] == "below"
    assert found["capacity_rps"] == 1.0  # the floor: "below 1 request a second"


def test_a_pass_above_a_failure_never_counts():
    state = CapacitySearch(start=100, limit=1000)
    for rate, passed in [(100, True), (200, False), (150, True), (400, True)]:
        state.record(rate, passed)
    assert state.passing == 150
    assert state.failing == 200
    assert state.result()["capacity_rps"] == 150


def test_a_noisy_step_inside_the_bracket_narrows_it_from_below():
    """A failure below an earlier pass (noise) moves the capacity down to what passed below
    it: the capacity is what every lower step passed."""
    state = CapacitySearch(start=100, limit=1000)
    for rate, passed in [(100, True), (200, True), (400, False), (300, False), (150, False)]:
        state.record(rate, passed)
    assert state.passing == 100
    assert state.failing == 150


def test_the_search_stays_short():
    tried = []
    search(lambda rate: tried.append(rate) or rate <= 450, start=25, limit=5000)
    assert len(tried) <= 12


def test_rates_below_a_tenth_are_refused_not_looped_on():
    with pytest.raises(ValueError, match=r"0\.1 requests"):
        CapacitySearch(start=0.01, limit=100)
    with pytest.raises(ValueError, match=r"0\.1 requests"):
        CapacitySearch(start=10, limit=100, floor=0.04)
    found = search(service(0.05), start=0.4, limit=100, floor=0.1)
    assert (found["censored"], found["capacity_rps"]) == ("below", 0.1)


@pytest.mark.parametrize("true_capacity", [180.0, 260.0])
def test_a_search_from_an_earlier_estimate_grows_gently_and_stays_shorter(true_capacity):
    """Started at an earlier run's capacity with 10% steps, it brackets the same capacity
    within 5% in fewer trials than doubling from far below."""
    tried = []
    found = search(
        lambda rate: tried.append(rate) or rate <= true_capacity, start=200, limit=5000, growth=1.1
    )
    low, high = found["bracket"]
    assert low <= true_capacity < high
    assert (high - low) <= 0.05 * low
    doubled = []
    search(lambda rate: doubled.append(rate) or rate <= true_capacity, start=25, limit=5000)
    assert len(tried) <= 5 < len(doubled)
    with pytest.raises(ValueError, match="over 1"):
        CapacitySearch(start=10, limit=100, growth=1.0)
