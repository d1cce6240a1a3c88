"""What a request carries to adapters that know nothing of Flask (the HTTP clients, the logs):
its correlation id, and its deadline, which every stage it reaches is given in turn."""

from __future__ import annotations

import time
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
# time.monotonic() by which the answer is due; no deadline outside a request.
current_deadline: ContextVar[float] = ContextVar("current_deadline", default=float("inf"))
# Sent to each stage: the milliseconds it has left (as gRPC's grpc-timeout does).
DEADLINE_HEADER = "ChurnLab-Deadline-Ms"


def deadline_or(seconds: float) -> float:
    """The request's deadline, or `seconds` from now, whichever comes first."""
    return min(current_deadline.get(), time.monotonic() + seconds)


def remaining_seconds() -> float:
    return current_deadline.get() - time.monotonic()
