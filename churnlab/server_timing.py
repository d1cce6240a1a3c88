"""W3C Server-Timing (https://www.w3.org/TR/server-timing/): every answer says how long its
stages took, so `curl -si` or a browser's developer tools show where a prediction's time went
without a tracing backend.

A request's durations are gathered in a context variable, like its id and deadline
(request_context.py): the workflow adds one per stage, and the stage client one per hop for the
time spent inside the service that answered. Outside a request (the spool's replay, retention)
nothing is gathered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from churnlab.tracing import span

HEADER = "Server-Timing"
APP = "app"  # every deployable's own time for the request, from its first hook to its last


@dataclass(frozen=True)
class Metric:
    name: str
    milliseconds: float
    description: str = ""

    def __str__(self) -> str:
        described = f';desc="{self.description}"' if self.description else ""
        return f"{self.name};dur={self.milliseconds:.2f}{described}"


_gathered: ContextVar[list[Metric] | None] = ContextVar("server_timing", default=None)


def start() -> Token:
    """A request begins: gather its durations from here (reset with the token it returns)."""
    return _gathered.set([])


def stop(token: Token) -> None:
    _gathered.reset(token)


def add(name: str, milliseconds: float, description: str = "", *, at: int | None = None) -> None:
    """One duration, last (or at position `at`) among the request's."""
    gathered = _gathered.get()
    if gathered is not None:
        metric = Metric(name, milliseconds, description)
        gathered.insert(len(gathered) if at is None else at, metric)


@contextmanager
def timed(name: str, description: str = "") -> Iterator[None]:
    """The block's wall-clock time as `name`, whether it returns or raises; listed before what
    was added inside it (a stage before its hop's inner time). It is a span of the request's
    trace too, so that the header and the trace split the time alike."""
    began, position = time.perf_counter(), len(_gathered.get() or ())
    try:
        with span(name):
            yield
    finally:
        add(name, (time.perf_counter() - began) * 1000, description, at=position)


def header(app_milliseconds: float, service: str) -> str:
    """The deployable's own time first, then what it gathered, in the order it happened."""
    metrics = [Metric(APP, app_milliseconds, service), *(_gathered.get() or ())]
    return ", ".join(str(metric) for metric in metrics)


_DURATION = re.compile(r"^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(?:;.*?\bdur=([0-9]+(?:\.[0-9]+)?))?")


def names(value: str) -> list[str]:
    """The metrics of a Server-Timing value, in order."""
    return [part.split(";")[0].strip() for part in value.split(",") if part.strip()]


def durations(value: str) -> dict[str, float]:
    """Each metric's duration in a Server-Timing value (one or more header fields joined by
    commas); metrics without one are left out. Descriptions here never hold a comma."""
    found = {}
    for part in value.split(","):
        match = _DURATION.match(part)
        if match and match.group(2):
            found.setdefault(match.group(1), float(match.group(2)))
    return found
