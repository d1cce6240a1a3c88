"""A fault's relative load in calls of its own mix: how many a single prediction is worth."""

from __future__ import annotations

import pytest

from lab.load.mixes import calls_per_single


def test_a_mix_heavier_per_call_than_a_single_prediction_is_offered_fewer_calls():
    # 20 singles at 2 ms, 2 batches of 50 records at 0.1 ms each (5 ms), 1 card read counted
    # as a single: 52 ms for 23 calls.
    assert calls_per_single(2.0, 0.1) == pytest.approx(2.0 / (52 / 23))
    assert calls_per_single(2.0, 0.01) > 1  # batches cheaper than singles: more calls
    assert calls_per_single(2.0, 0.04, mix="single") == 1.0


@pytest.mark.parametrize(("single_ms", "batch_record_ms"), [(0.0, 0.1), (2.0, -0.05)])
def test_a_slope_that_is_no_cost_gives_no_factor(single_ms, batch_record_ms):
    assert calls_per_single(single_ms, batch_record_ms) is None
