"""The plans name faults, splits and configurations by label: a label that names nothing would
silently run nothing."""

from __future__ import annotations

import pytest

from lab.experiments.plan import FAULTS, PLANS
from lab.experiments.scaling import MICRO_SPLITS


@pytest.mark.parametrize("name", PLANS)
def test_every_fault_a_plan_names_exists(name):
    plan, labels = PLANS[name], {fault.label for fault in FAULTS}
    assert set(plan.faults) <= labels
    assert set(plan.without_resilience) <= set(plan.faults)


@pytest.mark.parametrize("name", PLANS)
def test_every_split_a_plan_names_exists(name):
    assert set(PLANS[name].micro_splits) <= {split.name for split in MICRO_SPLITS}


def test_the_full_plan_takes_the_samples_its_figures_need():
    """At least 30 s of warm-up; each trial measured for 30 s and 1,000 calls (a p99); every
    fault at least 20 s; kills and pauses 3 times; headlines from 5 interleaved blocks."""
    plan = PLANS["full"]
    assert plan.warm_up_seconds >= 30
    assert plan.capacity.measure_seconds >= 30
    assert plan.capacity.calls >= 1000
    assert plan.capacity.resolution <= 0.05
    assert plan.fault_phases[1] >= 20
    assert plan.fault_repeats >= 3
    assert plan.repeats >= 5
