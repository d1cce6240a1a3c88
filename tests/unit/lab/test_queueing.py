"""The verdict's queueing model: Erlang's C formula at its known values, and the M/M/c wait's
quantile against a simulated queue."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.verdict.queueing import erlang_c, wait_quantile_ms


def test_one_server_waits_as_often_as_it_is_busy():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)


def test_two_servers_at_one_erlang_wait_a_third_of_the_time():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_a_queue_at_or_past_saturation_always_waits_and_never_drains():
    assert erlang_c(4, 4.0) == 1.0
    assert math.isinf(wait_quantile_ms(4, 10.0, 400.0, 0.99))


def test_a_quiet_queue_quotes_no_wait_at_its_p99():
    """Four servers at 10% busy: under 1% of requests wait at all."""
    assert wait_quantile_ms(4, 10.0, 40.0, 0.99) == 0.0


def _simulated_waits(servers: int, service_ms: float, rate: float, n: int) -> np.ndarray:
    """First come, first served over `servers`, Poisson arrivals, exponential service."""
    rng = np.random.default_rng(7)
    arrivals = np.cumsum(rng.exponential(1000 / rate, n))
    services = rng.exponential(service_ms, n)
    free_at = np.zeros(servers)
    waits = np.empty(n)
    for i, (arrival, service) in enumerate(zip(arrivals, services, strict=True)):
        server = int(np.argmin(free_at))
        start = max(arrival, free_at[server])
        waits[i] = start - arrival
        free_at[server] = start + service
    return waits


@pytest.mark.parametrize(("servers", "rate"), [(1, 70.0), (2, 160.0)])
def test_the_p99_wait_is_the_simulated_queues(servers, rate):
    quoted = wait_quantile_ms(servers, 10.0, rate, 0.99)
    simulated = float(np.quantile(_simulated_waits(servers, 10.0, rate, 200_000), 0.99))
    assert quoted == pytest.approx(simulated, rel=0.1)
