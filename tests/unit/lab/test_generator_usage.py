"""The generator's CPU and the machine's steal time, read over a trial's window: the start-up
and the drain around it must not enter (the issue's "CPU averaged over the whole run")."""

from __future__ import annotations

import pytest

from lab.experiments.budget import Budget
from lab.experiments.capacity import generator_held
from lab.load.cpu import MachineTimes
from lab.load.locust import LocustRun, Request, Sample


def run_of(seconds: float = 20.0) -> LocustRun:
    """A run sampled every half second: start-up burns a whole CPU for 4 s, the window 0.25
    of one, and a hypervisor steals 10% of the machine's two CPUs in the window only."""
    samples, cpu, steal, total = [], 0.0, 0.0, 0.0
    for tick in range(int(seconds * 2) + 1):
        now = 1000.0 + tick / 2
        samples.append(Sample(now, cpu, MachineTimes(steal, total)))
        in_window = 1004.0 <= now < 1016.0
        cpu += 0.5 * (0.25 if in_window else 1.0)
        steal += 0.5 * 2 * (0.1 if in_window else 0.0)
        total += 0.5 * 2
    return LocustRun([], cpu, seconds, samples=tuple(samples))


def test_the_window_reads_only_its_own_cpu_and_steal():
    usage = run_of().usage(1004.0, 1016.0)
    assert usage["generator_cpus"] == pytest.approx(0.25)
    assert usage["steal_share"] == pytest.approx(0.1)


def test_a_window_with_fewer_than_two_samples_reads_nothing():
    assert run_of().usage(1004.1, 1004.4) is None


def test_a_trial_judges_the_generator_by_its_window():
    calls = [Request(1004.0 + n / 100, "/v1/predict", True, 5.0, f"r{n}", 1) for n in range(1200)]
    checked = generator_held(run_of(), Budget("0", "1", shared=False), 100.0, 1004.0, 12.0, calls)
    assert checked["cpu_share"] == pytest.approx(0.25, abs=0.01)  # one generator CPU
    assert checked["steal_share"] == pytest.approx(0.1)
    assert checked["valid"]
