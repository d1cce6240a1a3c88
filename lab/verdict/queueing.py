"""The queueing model the verdict speaks through where nothing was measured: a deployment as
an M/M/c queue (Kleinrock, vol. 1, 3.5), its c servers the cores it was measured to keep busy,
each serving a request in the CPU time it was measured to cost. Erlang's C formula gives the
chance of waiting at all; a request's time in the system is its wait (none, or exponential at
the rate the queue drains) plus its own exponential service, and its quantiles follow.

A model, labelled as one wherever it is quoted: arrivals at random (Poisson) and service times
spread as an exponential's make it pessimistic for a steady generator and optimistic for
bursts.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq


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


def response_quantile_ms(servers: int, service_ms: float, rate: float, quantile: float) -> float:
    """The time in the system (wait and service) that a `quantile` of requests stay within, in
    ms; infinite at or past saturation."""
    offered = rate * service_ms / 1000
    if offered >= servers:
        return math.inf
    waiting = erlang_c(servers, offered)
    serve = 1 / service_ms  # per ms
    drain = servers * serve - rate / 1000  # the rate a queue empties at, per ms

    def beyond(t: float) -> float:  # P(time in the system > t)
        if math.isclose(drain, serve):
            waited = (1 + serve * t) * math.exp(-serve * t)
        else:
            waited = (drain * math.exp(-serve * t) - serve * math.exp(-drain * t)) / (drain - serve)
        return (1 - waiting) * math.exp(-serve * t) + waiting * waited

    upper = service_ms
    while beyond(upper) > 1 - quantile:
        upper *= 2
    return brentq(lambda t: beyond(t) - (1 - quantile), 0.0, upper, xtol=1e-9)
