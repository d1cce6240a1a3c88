"""Repeated figures: the median's order-statistic interval, its stated coverage, the flags that
read it, and the paired ratio of two architectures."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
import pytest

from lab.stats import in_turns, median_interval, overlap, ratio_interval, spread, turn_order


def test_few_runs_give_the_range_and_say_its_true_coverage():
    assert median_interval([3, 1, 2]) == (1, 3, 0.75)
    assert median_interval([5, 1, 4, 2, 3]) == (1, 5, 0.9375)


def test_enough_runs_give_an_interval_narrower_than_the_range_at_95_percent():
    values = [101, 97, 110, 95, 104, 99, 103, 100, 98, 102]
    low, high, coverage = median_interval(values)
    assert min(values) < low <= np.median(values) <= high < max(values)
    assert coverage >= 0.95


def test_the_stated_coverage_is_what_the_interval_achieves():
    """Drawn from a skewed distribution whose median is known, the interval holds it as often
    as it says (within the simulation's error)."""
    rng = np.random.default_rng(1)
    true_median = np.log(2)  # of an exponential with rate 1
    for n in (5, 8):
        stated = median_interval(list(range(n)))[2]
        held = 0
        for _ in range(4000):
            low, high, _ = median_interval(rng.exponential(size=n))
            held += low <= true_median <= high
        assert held / 4000 == pytest.approx(stated, abs=0.02)


def test_one_run_has_no_interval_and_is_flagged():
    alone = spread([42.0])
    assert alone["interval"] is None
    assert alone["coverage"] is None
    assert alone["flagged"] is True
    assert (alone["median"], alone["runs"]) == (42.0, 1)


def test_a_figure_is_flagged_when_its_interval_is_wider_than_fifteen_percent():
    steady = spread([100, 104, 98, 101, 99])
    assert steady["flagged"] is False
    assert steady["interval"][0] <= steady["median"] <= steady["interval"][1]
    wide = spread([70, 100, 130, 85, 115])
    assert wide["flagged"] is True
    assert wide["spread"] == 0.6


def test_identical_runs_have_a_point_interval():
    assert spread([5, 5, 5])["interval"] == [5, 5]


def test_overlap_says_whether_the_runs_tell_two_figures_apart():
    low = spread([100, 101, 99, 100, 102])
    high = spread([200, 201, 199, 198, 203])
    assert overlap(low, high) is False
    assert overlap(low, spread([101, 103, 100, 99, 104])) is True
    assert overlap(low, spread([150.0])) is True  # one run: nothing told apart


def test_paired_blocks_cancel_a_drift_that_unpaired_medians_keep():
    """The machine slows by half over five blocks; each block's two runs slow together, so the
    ratio of 4 is exact per block, and the interval is tight around it."""
    drift = [1.0, 0.9, 0.75, 0.6, 0.5]
    monolith = [400 * d for d in drift]
    micro = [100 * d for d in drift]
    paired = ratio_interval(monolith, micro)
    assert paired["ratio"] == 4.0
    assert paired["interval"] == [4.0, 4.0]
    assert paired["blocks"] == 5


def test_a_noisy_ratio_has_an_interval_around_it():
    paired = ratio_interval([400, 380, 420, 390], [100, 110, 95, 105])
    assert paired["interval"][0] < paired["ratio"] < paired["interval"][1]
    assert ratio_interval([400], [100]) is None  # one block: no interval


def test_turns_alternate_so_each_subject_goes_first_equally_often():
    subjects = {"a": 1, "b": 2}
    orders = [[name for name, _ in in_turns(subjects, number)] for number in range(4)]
    assert orders == [["a", "b"], ["b", "a"], ["b", "a"], ["a", "b"]]


def test_three_take_each_place_and_follow_each_other_equally_often():
    """With three, reversing every other round left the middle one always second."""
    arches = ("monolith", "micro", "hybrid")
    orders = [turn_order(arches, number) for number in range(6)]
    assert all(sorted(order) == sorted(arches) for order in orders)
    places = Counter((arch, order.index(arch)) for order in orders for arch in order)
    assert set(places.values()) == {2}  # each twice in each of the three places
    follows = Counter(pair for order in orders for pair in pairwise(order))
    assert len(follows) == 6  # every ordered pair of the three
    assert set(follows.values()) == {2}
