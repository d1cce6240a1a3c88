"""One downstream stage over HTTP: pooled keep-alive connections, a deadline on every call,
retries with jittered backoff on another replica, and a circuit breaker.

Only calls that are safe to repeat are retried: features and inference are pure functions, and
ingest is idempotent by request id. Failures surface as StageUnavailableError, which the API maps
to a fast 503 (or which the ingest adapter turns into degraded mode).
"""

from __future__ import annotations

import time
from typing import Any

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

from churnlab.adapters.endpoints import Endpoints, NoEndpointError
from churnlab.config import Settings
from churnlab.domain.errors import StageRejectedError, StageUnavailableError
from churnlab.request_context import current_request_id
from churnlab.workflow import READY

READINESS_TIMEOUT_SECONDS = 0.5


class RetryableCallError(Exception):
    """This attempt failed in a way another attempt (on another replica) may not."""


class StageClient:
    def __init__(self, stage: str, urls: str, settings: Settings) -> None:
        self.stage = stage
        self.settings = settings
        self.endpoints = Endpoints(
            urls,
            eject_seconds=settings.eject_seconds,
            resolve_every_seconds=settings.resolve_every_seconds,
        )
        self._pool = urllib3.PoolManager(num_pools=64, maxsize=32, retries=False)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=settings.breaker_failures,
            reset_timeout=settings.breaker_reset_seconds,
            exclude=[StageRejectedError],
            name=stage,
            # The call that trips the breaker reports its own failure; later calls, refused
            # without trying, report the open circuit.
            throw_new_error_on_trip=False,
        )

    def call(self, method: str, path: str, payload: Any = None, *, records: int = 1) -> Any:
        """The decoded JSON answer, or StageUnavailableError within the call's deadline."""
        budget = (
            self.settings.stage_read_timeout_seconds
            + self.settings.stage_read_timeout_per_record_seconds * max(records - 1, 0)
        )
        body = None if payload is None else orjson.dumps(payload)
        try:
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
        deadline = time.monotonic() + budget
        tried: set[str] = set()
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.stage_attempts) | stop_after_delay(budget),
            wait=wait_random_exponential(multiplier=0.01, max=0.1),
            retry=retry_if_exception_type(RetryableCallError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                address = self.endpoints.pick(avoid=tried)
                tried.add(address)
                # Each attempt gets a share of what is left, so one that hangs (a request sent
                # on a connection to a container that just vanished) leaves time for another.
                attempts_left = self.settings.stage_attempts - attempt.retry_state.attempt_number
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
            response = self._pool.request(
                method, address + path, body=body, headers=headers, timeout=timeout
            )
        except urllib3.exceptions.HTTPError as error:
            self.endpoints.eject(address)
            raise RetryableCallError(f"{address}: {type(error).__name__}") from None
        if response.status >= 500:
            self.endpoints.eject(address)
            raise RetryableCallError(f"{address} answered {response.status}")
        if response.status >= 400:
            raise StageRejectedError(
                f"{address}{path} answered {response.status}: {response.data[:300]!r}"
            )
        return orjson.loads(response.data)

    def readiness(self) -> str:
        """Ready when at least one replica says so; otherwise what the first one said."""
        if self.breaker.current_state == pybreaker.STATE_OPEN:
            return "circuit open"
        addresses = self.endpoints.addresses
        if not addresses:
            return "no address resolves"
        reasons = []
        for address in addresses:
            try:
                response = self._pool.request(
                    "GET", f"{address}/readyz", timeout=READINESS_TIMEOUT_SECONDS
                )
            except urllib3.exceptions.HTTPError as error:
                reasons.append(f"{address}: {type(error).__name__}")
                continue
            if response.status == 200:
                return READY
            reasons.append(f"{address}: {response.status}")
        return "; ".join(reasons)
