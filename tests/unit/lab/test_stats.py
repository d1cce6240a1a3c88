"""Repeated figures: the median's bootstrap interval and the flags that read it."""

from __future__ import annotations

import numpy as np

from lab.stats import median_interval, overlap, spread


def test_the_interval_holds_the_median_and_lies_inside_the_range():
    values = [101, 97, 110, 95, 104, 99, 103]
    low, high = median_interval(values)
    assert min(values) <= low <= np.median(values) <= high <= max(values)
    assert (low, high) != (min(values), max(values))  # seven runs: narrower than the range


def test_the_same_runs_always_give_the_same_interval():
    assert median_interval([3.1, 2.9, 3.4, 3.0, 2.7]) == median_interval([3.1, 2.9, 3.4, 3.0, 2.7])


def test_one_run_has_no_interval_and_is_flagged():
    alone = spread([42.0])
    assert alone["ci95"] is None
    assert alone["flagged"] is True
    assert (alone["median"], alone["runs"]) == (42.0, 1)


def test_a_figure_is_flagged_when_its_interval_is_wider_than_fifteen_percent():
    steady = spread([100, 104, 98, 101, 99])
    assert steady["flagged"] is False
    assert steady["ci95"][0] <= steady["median"] <= steady["ci95"][1]
    wide = spread([70, 100, 130, 85, 115])
    assert wide["flagged"] is True
    assert wide["spread"] == 0.6


def test_identical_runs_have_a_point_interval():
    assert spread([5, 5, 5])["ci95"] == [5, 5]


def test_overlap_says_whether_the_runs_tell_two_figures_apart():
    low = spread([100, 101, 99, 100, 102])
    high = spread([200, 201, 199, 198, 203])
    assert overlap(low, high) is False
    assert overlap(low, spread([101, 103, 100, 99, 104])) is True
    assert overlap(low, spread([150.0])) is True  # one run: nothing told apart
