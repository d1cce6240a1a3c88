"""CPU by regression: the slope is the CPU per record, the intercept the background."""

from __future__ import annotations

import pytest

from lab.experiments.cost import fit, rates_for


def test_the_slope_is_the_cpu_per_record_and_the_intercept_the_background():
    """A stage that spends 2.5 ms per record on 0.02 CPU of timers, read with some noise."""
    throughput = [20, 40, 60, 80]
    noise = [0.003, -0.002, 0.001, -0.002]
    busy = [0.02 + x * 0.0025 + e for x, e in zip(throughput, noise, strict=True)]
    fitted = fit(throughput, busy)
    assert fitted["ms_per_record"] == pytest.approx(2.5, abs=0.1)
    low, high = fitted["ms_per_record_interval"]
    assert low < 2.5 < high
    assert fitted["background_cpus"] == pytest.approx(0.02, abs=0.01)
    assert fitted["r_squared"] > 0.99


def test_too_few_rates_give_no_fit():
    assert fit([20, 40], [0.1, 0.2]) is None
    assert fit([20, 20, 20], [0.1, 0.2, 0.3]) is None


def test_rates_are_shares_of_the_capacity_in_records_of_each_mix():
    assert rates_for(200, (0.25, 0.5), (10, 20), "single") == [50, 100]
    assert rates_for(200, (0.25, 0.5), (10, 20), "batch") == [5, 10]  # 50 records a call, 5x
    assert rates_for(None, (0.25, 0.5), (10, 20), "single") == [10, 20]
    assert rates_for(None, (0.25,), (1,), "batch") == [0.5]  # never below half a call a second
