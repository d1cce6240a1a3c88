"""The verdict's queueing model: Erlang's C formula at its known values, and the M/M/c wait's
quantile against a simulated queue."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.verdict.queueing import erlang_c, response_quantile_ms


def test_one_server_waits_as_often_as_it_is_busy():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)


def test_two_servers_at_one_erlang_wait_a_third_of_the_time():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_a_queue_at_or_past_saturation_always_waits_and_never_drains():
    assert erlang_c(4, 4.0) == 1.0
    assert math.isinf(response_quantile_ms(4, 10.0, 400.0, 0.99))


def test_a_quiet_queue_s_p99_is_its_service_time_s():
    """Four servers at 1% busy: hardly anyone waits, and an exponential service's p99 is
    ln(100) means."""
    assert response_quantile_ms(4, 10.0, 4.0, 0.99) == pytest.approx(10 * math.log(100), rel=0.01)


def _simulated_times(servers: int, service_ms: float, rate: float, n: int) -> np.ndarray:
    """Time in the system, first come first served over `servers`, Poisson arrivals,
    exponential service."""
    rng = np.random.default_rng(7)
    arrivals = np.cumsum(rng.exponential(1000 / rate, n))
    services = rng.exponential(service_ms, n)
    free_at = np.zeros(servers)
    waits = np.empty(n)
    for i, (arrival, service) in enumerate(zip(arrivals, services, strict=True)):
        server = int(np.argmin(free_at))
        start = max(arrival, free_at[server])
        waits[i] = start + service - arrival
        free_at[server] = start + service
    return waits


@pytest.mark.parametrize(("servers", "rate"), [(1, 70.0), (2, 100.0), (2, 160.0), (3, 150.0)])
def test_the_p99_time_in_the_system_is_the_simulated_queues(servers, rate):
    """Light and heavy loads, and a drain rate equal to the service rate (2 servers at 100/s)."""
    quoted = response_quantile_ms(servers, 10.0, rate, 0.99)
    simulated = float(np.quantile(_simulated_times(servers, 10.0, rate, 200_000), 0.99))
    assert quoted == pytest.approx(simulated, rel=0.05)
