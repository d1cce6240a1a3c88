"""One downstream stage over HTTP: pooled keep-alive connections, the caller's deadline on every
call, retries on another replica that cannot amplify an outage, a circuit breaker, and readiness
from a background health watch.

A call ends by the request's deadline (`current_deadline`) or the stage's read timeout, whichever
comes first, and each attempt tells the stage how long it has (DEADLINE_HEADER), so that the
stage can finish, or refuse, before the caller gives up. Only attempts that did no work are
retried: a connection that was never made, and a 503; and only while the stage's retry budget
allows, so that retries add at most about a tenth to the calls of a failing stage. A read
timeout or another 5xx is final: the stage may have done the work, and a retry would only pile
more onto a slow stage. (What is retried is safe to repeat anyway: features and inference are
pure functions, and ingest is idempotent by record id.)

Failures surface as StageUnavailableError, carrying the stage's problem+json answer when it
gave one, which the API maps to a fast 503 (or which the ingest adapter turns into degraded
mode); a 4xx is a StageRejectedError. Each pattern can be switched off by settings (attempts 1,
breaker failures 0, eject seconds 0), so an experiment can show what it buys.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson
import pybreaker
import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential
from urllib3.exceptions import ProtocolError

from churnlab import server_timing
from churnlab.adapters.endpoints import Endpoints, NoEndpointError, Resolver, resolve_addresses
from churnlab.adapters.health_watch import HealthWatch
from churnlab.adapters.retry_budget import RetryBudget
from churnlab.config import Settings
from churnlab.domain.errors import (
    PROBLEM_JSON,
    StageRejectedError,
    StageUnavailableError,
    kept_rank,
)
from churnlab.metrics import STAGE_RETRIES
from churnlab.request_context import DEADLINE_HEADER, current_deadline, current_request_id
from churnlab.tracing import span

# The request never reached the stage: see RetryableCallError.
CONNECTION_FAILURES = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
)
DEADLINE_PASSED = "deadline passed"
backoff = wait_random_exponential(multiplier=0.01, max=0.1)


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


class CallFailedError(Exception):
    """An attempt failed; `problem` is the stage's problem+json answer, when it gave one, and
    `reached` whether the stage may have done the work (anything but a connection never made,
    or a stage's own refusal)."""

    def __init__(self, reason: str, problem: dict | None = None, reached: bool = True) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reached = reached


class RetryableCallError(CallFailedError):
    """An attempt another replica may take: a 503 (the stage refused before doing any work),
    or a connection that failed before an answer began. urllib3 raises NewConnectionError or
    ConnectTimeoutError when connect() itself fails or is not answered: no byte of the request
    was sent. It raises ProtocolError with a ConnectionError inside (reset, closed without an
    answer, broken pipe) when a connection breaks before the status line: how a replica that is
    shutting down drops its pooled keep-alive connections, in a race with the request sent on
    one (a rollout hit it once in some 700 calls). Go's net/http and urllib3 retry those for
    idempotent requests, as every stage call is. What that costs when the stage died *of* the
    request: at most two more replicas tried, within the retry budget, and none ejected for it
    (ejection needs three failures in a row). Not retried: a response cut off after it began,
    a read timeout (the stage has the request and is slow: a retry piles onto it), a 500."""


def broke_before_an_answer(error: urllib3.exceptions.HTTPError) -> bool:
    cause = error.args[1] if isinstance(error, ProtocolError) and len(error.args) > 1 else None
    return isinstance(cause, ConnectionError)


def problem_in(response: urllib3.BaseHTTPResponse) -> dict | None:
    """The stage's problem details (RFC 9457), so that callers can tell its failures apart: a
    problem+json body, or any JSON object with a "type"."""
    try:
        body = orjson.loads(response.data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    return body if content_type == PROBLEM_JSON or "type" in body else None


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
        read_timeout_seconds: float | None = None,
        ready_path: str = "/readyz",
        transport: Transport | None = None,
        resolve: Resolver = resolve_addresses,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`read_timeout_seconds` is for one record (default: the settings' stage read
        timeout); `ready_path` answers 200 when a replica is ready (the model tier's is the
        protocol's); `clock` is time.monotonic, or a fake of it, for every part of the client."""
        self.stage = stage
        self._ready_path = ready_path
        self._clock = clock
        self._opened = _OpenedAt(clock)
        self.settings = settings
        self.read_timeout_seconds = (
            settings.stage_read_timeout_seconds
            if read_timeout_seconds is None
            else read_timeout_seconds
        )
        self.endpoints = Endpoints(
            urls,
            eject_seconds=settings.eject_seconds,
            eject_after_failures=settings.eject_after_failures,
            resolve=resolve,
            clock=clock,
            probe_new_addresses=settings.health_every_seconds > 0,
        )
        self.retry_budget = RetryBudget(
            settings.retry_budget_ratio, settings.retry_budget_min_per_second, clock=clock
        )
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
            clock=clock,
        ).start()

    def call(self, method: str, path: str, payload: Any = None, *, records: int = 1) -> Any:
        """The decoded JSON answer, or StageUnavailableError by the request's deadline or the
        stage's read timeout (one record's, plus a share per extra record), whichever is first."""
        read_timeout = (
            self.read_timeout_seconds
            + self.settings.stage_read_timeout_per_record_seconds * max(records - 1, 0)
        )
        deadline = min(current_deadline.get(), self._clock() + read_timeout)
        if self._milliseconds_left(deadline) < 1:
            # Before the breaker: a request out of time says nothing about the stage.
            raise StageUnavailableError(self.stage, DEADLINE_PASSED)
        with span("encode"):
            body = None if payload is None else orjson.dumps(payload)
        try:
            if self.breaker is None:
                return self._with_retries(method, path, body, deadline)
            return self.breaker.call(self._with_retries, method, path, body, deadline)
        except pybreaker.CircuitBreakerError:
            raise StageUnavailableError(
                self.stage,
                "circuit open after repeated failures",
                retry_after_seconds=max(1, round(self.settings.breaker_reset_seconds)),
            ) from None
        except CallFailedError as error:
            raise StageUnavailableError(
                self.stage, str(error), problem=error.problem, reached=error.reached
            ) from None
        except NoEndpointError as error:
            raise StageUnavailableError(self.stage, str(error)) from None

    def _with_retries(self, method: str, path: str, body: bytes | None, deadline: float) -> Any:
        self.retry_budget.deposit()
        tried: set[str] = set()

        def stop(state: RetryCallState) -> bool:
            # The budget is asked last, so that only a retry about to be made is paid for.
            return (
                state.attempt_number >= self.settings.stage_attempts
                or self._milliseconds_left(deadline) < 1
                or not self._retry_allowed()
            )

        def wait(state: RetryCallState) -> float:
            # Never sleep away more than half of what is left: the retry needs the rest.
            return min(backoff(state), max(deadline - self._clock(), 0.0) / 2)

        retrying = Retrying(
            stop=stop, wait=wait, retry=retry_if_exception_type(RetryableCallError), reraise=True
        )
        first_problem: list[dict] = []  # the stage's problem that says the most was kept
        reached = False  # whether any attempt may have done the work
        for attempt in retrying:
            with attempt:
                try:
                    address = self.endpoints.pick(avoid=tried)
                    tried.add(address)
                    return self._once(address, method, path, body, deadline)
                except CallFailedError as failure:
                    if failure.problem is not None and (
                        not first_problem
                        or kept_rank(failure.problem) > kept_rank(first_problem[0])
                    ):
                        first_problem[:] = [failure.problem]
                    failure.problem = first_problem[0] if first_problem else None
                    reached = failure.reached = reached or failure.reached
                    raise
                except NoEndpointError as failure:
                    if not (first_problem or reached):
                        raise
                    problem = first_problem[0] if first_problem else None
                    raise CallFailedError(str(failure), problem, reached) from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _retry_allowed(self) -> bool:
        allowed = self.retry_budget.withdraw()
        STAGE_RETRIES.labels(stage=self.stage, allowed=str(allowed).lower()).inc()
        return allowed

    def _milliseconds_left(self, deadline: float) -> int:
        return math.floor((deadline - self._clock()) * 1000)

    def _once(
        self, address: str, method: str, path: str, body: bytes | None, deadline: float
    ) -> Any:
        milliseconds = self._milliseconds_left(deadline)
        if milliseconds < 1:
            raise CallFailedError(DEADLINE_PASSED, reached=False)
        seconds = milliseconds / 1000
        timeout = urllib3.Timeout(
            total=seconds,
            connect=min(self.settings.stage_connect_timeout_seconds, seconds),
            read=seconds,
        )
        headers = {"X-Request-ID": current_request_id.get(), DEADLINE_HEADER: str(milliseconds)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._transport.request(
                method, address + path, body=body, headers=headers, timeout=timeout
            )
        except urllib3.exceptions.HTTPError as error:
            self.endpoints.failed(address, type(error).__name__)
            if isinstance(error, CONNECTION_FAILURES):
                raise RetryableCallError(
                    f"{address}: {type(error).__name__}", reached=False
                ) from None
            if broke_before_an_answer(error):
                raise RetryableCallError(f"{address}: connection broke before an answer") from None
            raise CallFailedError(f"{address}: {type(error).__name__}") from None
        if response.status >= 500:
            self.endpoints.failed(address, f"answered {response.status}")
            # A 503 is the stage refusing before doing any work (not ready, or shedding load),
            # or saying in its problem what it kept.
            failure = RetryableCallError if response.status == 503 else CallFailedError
            raise failure(
                f"{address} answered {response.status}",
                problem_in(response),
                reached=response.status != 503,
            )
        self.endpoints.succeeded(address)
        inside = server_timing.durations(response.headers.get(server_timing.HEADER, ""))
        if server_timing.APP in inside:
            # Beside the workflow's time for the stage: the rest of it is the hop's.
            name = f"{self.stage}-service"
            server_timing.add(name, inside[server_timing.APP], f"inside the {self.stage} service")
        if response.status >= 400:
            raise StageRejectedError(
                f"{address}{path} answered {response.status}: {response.data[:300]!r}",
                status=response.status,
            )
        with span("decode", bytes=len(response.data)):
            try:
                return orjson.loads(response.data)
            except orjson.JSONDecodeError as error:
                raise StageRejectedError(f"{address}{path} answered no JSON: {error}") from None

    def probe(self, address: str) -> str | None:
        """None when the replica at `address` says it is ready; otherwise why not."""
        seconds = self.settings.health_timeout_seconds
        try:
            response = self._transport.request(
                "GET",
                f"{address}{self._ready_path}",
                headers={DEADLINE_HEADER: str(math.floor(seconds * 1000))},
                timeout=seconds,
            )
        except urllib3.exceptions.HTTPError as error:
            return type(error).__name__
        return None if response.status == 200 else f"{self._ready_path} answered {response.status}"

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
