"""One downstream stage over HTTP: pooled keep-alive connections, a deadline on every call,
retries with jittered backoff on another replica, a circuit breaker, and readiness from a
background health watch.

Only calls that are safe to repeat are retried: features and inference are pure functions, and
ingest is idempotent by record id. Failures surface as StageUnavailableError, which the API maps
to a fast 503 (or which the ingest adapter turns into degraded mode). Each pattern can be
switched off by settings (attempts 1, breaker failures 0, eject seconds 0), so an experiment can
show what it buys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson
import pybreaker
import urllib3
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from churnlab.adapters.endpoints import Endpoints, NoEndpointError, Resolver, resolve_addresses
from churnlab.adapters.health_watch import HealthWatch
from churnlab.config import Settings
from churnlab.domain.errors import StageRejectedError, StageUnavailableError
from churnlab.request_context import current_request_id


class Transport(Protocol):
    """What the client needs of urllib3's PoolManager; tests pass a fake."""

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: urllib3.Timeout | float | None = None,
    ) -> urllib3.BaseHTTPResponse: ...


class RetryableCallError(Exception):
    """This attempt failed in a way another attempt (on another replica) may not."""


class _OpenedAt(pybreaker.CircuitBreakerListener):
    """When the breaker last opened: pybreaker moves an open breaker to half-open only on the
    next call, so without traffic it would report "open" for ever."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.at: float | None = None

    def state_change(self, breaker, old, new) -> None:
        self.at = self._clock() if new.name == pybreaker.STATE_OPEN else None


class StageClient:
    def __init__(
        self,
        stage: str,
        urls: str,
        settings: Settings,
        *,
        transport: Transport | None = None,
        resolve: Resolver = resolve_addresses,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage = stage
        self._clock = clock
        self._opened = _OpenedAt(clock)
        self.settings = settings
        self.endpoints = Endpoints(urls, eject_seconds=settings.eject_seconds, resolve=resolve)
        self._transport = transport or urllib3.PoolManager(num_pools=64, maxsize=32, retries=False)
        self.breaker = (
            pybreaker.CircuitBreaker(
                fail_max=settings.breaker_failures,
                reset_timeout=settings.breaker_reset_seconds,
                exclude=[StageRejectedError],
                name=stage,
                # The call that trips the breaker reports its own failure; later calls, refused
                # without trying, report the open circuit.
                throw_new_error_on_trip=False,
                listeners=[self._opened],
            )
            if settings.breaker_failures > 0
            else None
        )
        self.health = HealthWatch(
            self.endpoints,
            self.probe,
            every_seconds=settings.health_every_seconds,
            resolve_every_seconds=settings.resolve_every_seconds,
        ).start()

    def call(self, method: str, path: str, payload: Any = None, *, records: int = 1) -> Any:
        """The decoded JSON answer, or StageUnavailableError within the call's deadline."""
        budget = (
            self.settings.stage_read_timeout_seconds
            + self.settings.stage_read_timeout_per_record_seconds * max(records - 1, 0)
        )
        body = None if payload is None else orjson.dumps(payload)
        try:
            if self.breaker is None:
                return self._with_retries(method, path, body, budget)
            return self.breaker.call(self._with_retries, method, path, body, budget)
        except pybreaker.CircuitBreakerError:
            raise StageUnavailableError(
                self.stage,
                "circuit open after repeated failures",
                retry_after_seconds=max(1, round(self.settings.breaker_reset_seconds)),
            ) from None
        except (RetryableCallError, NoEndpointError) as error:
            raise StageUnavailableError(self.stage, str(error)) from None

    def _with_retries(self, method: str, path: str, body: bytes | None, budget: float) -> Any:
        attempts = max(self.settings.stage_attempts, 1)
        deadline = time.monotonic() + budget
        tried: set[str] = set()
        retrying = Retrying(
            stop=stop_after_attempt(attempts) | stop_after_delay(budget),
            wait=wait_random_exponential(multiplier=0.01, max=0.1),
            retry=retry_if_exception_type(RetryableCallError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                address = self.endpoints.pick(avoid=tried)
                tried.add(address)
                # Each attempt gets a share of what is left, so one that hangs (a paused
                # replica, or a connection to a container that just vanished) leaves time for
                # another.
                attempts_left = attempts - attempt.retry_state.attempt_number
                share = max(deadline - time.monotonic(), 0.05) / (attempts_left + 1)
                return self._once(address, method, path, body, share)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _once(
        self, address: str, method: str, path: str, body: bytes | None, seconds: float
    ) -> Any:
        timeout = urllib3.Timeout(
            connect=min(self.settings.stage_connect_timeout_seconds, seconds), read=seconds
        )
        headers = {"X-Request-ID": current_request_id.get()}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._transport.request(
                method, address + path, body=body, headers=headers, timeout=timeout
            )
        except urllib3.exceptions.HTTPError as error:
            self.endpoints.eject(address, type(error).__name__)
            raise RetryableCallError(f"{address}: {type(error).__name__}") from None
        if response.status >= 500:
            self.endpoints.eject(address, f"answered {response.status}")
            raise RetryableCallError(f"{address} answered {response.status}")
        if response.status >= 400:
            raise StageRejectedError(
                f"{address}{path} answered {response.status}: {response.data[:300]!r}"
            )
        return orjson.loads(response.data)

    def probe(self, address: str) -> str | None:
        """None when the replica at `address` says it is ready; otherwise why not."""
        try:
            response = self._transport.request(
                "GET", f"{address}/readyz", timeout=self.settings.health_timeout_seconds
            )
        except urllib3.exceptions.HTTPError as error:
            return type(error).__name__
        return None if response.status == 200 else f"readyz answered {response.status}"

    def _breaker_refusing(self) -> bool:
        if self.breaker is None or self.breaker.current_state != pybreaker.STATE_OPEN:
            return False
        opened_at = self._opened.at
        return opened_at is None or self._clock() - opened_at < self.breaker.reset_timeout

    def readiness(self) -> str:
        """From the breaker, ejections and the health watch's last round: never waits. An open
        breaker counts until its reset time is up; after that the next call is its trial, and
        the health watch says whether the stage is back."""
        if self._breaker_refusing():
            return "circuit open"
        if not self.endpoints.available():
            return self.endpoints.problems() or f"no address resolves for {self.endpoints.names}"
        return self.health.state
