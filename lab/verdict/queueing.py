"""The queueing model the verdict speaks through where nothing was measured: a deployment as
an M/M/c queue (Kleinrock, vol. 1, 3.5), its c servers the cores it was measured to use, each
serving a request in the CPU time it was measured to cost. The wait a request's CPU time is
exceeded by with probability p follows from Erlang's C formula, the chance of waiting at all.

A model, labelled as one wherever it is quoted: arrivals at random (Poisson) and service times
spread as an exponential's make it pessimistic for a steady generator and optimistic for
bursts.
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered: float) -> float:
    """The probability that an arrival waits, with `offered` = rate x service time (Erlangs)
    spread over `servers`; 1 at or past saturation."""
    if offered >= servers:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    utilisation = offered / servers
    return blocking / (1 - utilisation * (1 - blocking))


def wait_quantile_ms(servers: int, service_ms: float, rate: float, quantile: float) -> float:
    """The time in queue that a `quantile` of requests stay within (M/M/c), in ms; infinite at
    or past saturation."""
    offered = rate * service_ms / 1000
    if offered >= servers:
        return math.inf
    waiting = erlang_c(servers, offered)
    if waiting <= 1 - quantile:
        return 0.0
    drain_per_ms = servers / service_ms - rate / 1000  # the rate the queue empties at
    return math.log(waiting / (1 - quantile)) / drain_per_ms
