"""A retry budget, as Finagle's RetryBudget and gRPC's retry throttling keep one: retries may add
only a set share to a stage's calls, so that clients retrying a failing stage cannot multiply
its load.

Every call deposits `ratio` of a token and every retry withdraws a whole one; a reserve of
`min_per_second` retries, refilled with time, lets a client that makes few calls still retry.
Deposits fade (decaying with a time constant of DEPOSIT_TTL_SECONDS, as Finagle's expire after
ten seconds), so a long run of successes cannot be banked and then spent at once on an outage.
No well-kept library does this; it is a token bucket of a few lines.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

DEPOSIT_TTL_SECONDS = 10.0
# Ten deposits of 0.1 add up to 0.9999999999999999, which must buy a retry.
_ROUNDING = 1e-9


class RetryBudget:
    """Thread-safe: every gunicorn thread of a process spends one budget per stage."""

    def __init__(
        self,
        ratio: float,
        min_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ratio = ratio
        self._min_per_second = min_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._deposited = 0.0
        self._reserve = min_per_second
        self._settled_at = clock()

    def deposit(self) -> None:
        """A call is being made: it earns `ratio` of a retry."""
        with self._lock:
            self._settle()
            self._deposited += self._ratio

    def withdraw(self) -> bool:
        """Whether a retry may be made now; when it may, it is paid for."""
        with self._lock:
            self._settle()
            if self._deposited + _ROUNDING >= 1:
                self._deposited -= 1
                return True
            if self._reserve + _ROUNDING >= 1:
                self._reserve -= 1
                return True
            return False

    def _settle(self) -> None:
        """Fade the deposits and refill the reserve (up to one second's worth) for the time
        since the last settling."""
        now = self._clock()
        elapsed = max(now - self._settled_at, 0.0)
        self._settled_at = now
        self._deposited *= math.exp(-elapsed / DEPOSIT_TTL_SECONDS)
        self._reserve = min(self._reserve + elapsed * self._min_per_second, self._min_per_second)
