"""The gateway's stage client against a fake transport: which failures are retried and how
many, ejection, breaker, deadlines, request ids, problem answers and readiness."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from prometheus_client import REGISTRY

from churnlab import server_timing
from churnlab.adapters.stage_client import StageClient
from churnlab.config import Settings
from churnlab.domain.errors import StageRejectedError, StageUnavailableError
from churnlab.request_context import DEADLINE_HEADER, current_deadline, current_request_id
from churnlab.workflow import READY
from tests.unit.adapters.fakes import (
    FakeClock,
    FakeResolver,
    FakeTransport,
    answer,
    close_idle,
    cut_off,
    drop,
    hang,
    refuse,
    taking,
    time_out_connecting,
)

A, B = "http://10.0.0.1:8000", "http://10.0.0.2:8000"
NOT_REPLICATED = {
    "type": "urn:churnlab:problem:not-replicated",
    "title": "Not confirmed",
    "status": 503,
}


def client(
    transport,
    replicas=("10.0.0.1", "10.0.0.2"),
    clock=None,
    read_timeout_seconds=None,
    **overrides,
) -> StageClient:
    settings = Settings(health_every_seconds=0, **overrides)  # no background threads
    return StageClient(
        "features",
        "http://features:8000",
        settings,
        read_timeout_seconds=read_timeout_seconds,
        transport=transport,
        resolve=FakeResolver(features=list(replicas)),
        **({"clock": clock} if clock else {}),
    )


def failing_stage(transport, clock, **overrides) -> StageClient:
    """One replica, with ejection and the breaker off: only the budget limits retries."""
    return client(
        transport,
        replicas=["10.0.0.1"],
        clock=clock,
        eject_seconds=0,
        breaker_failures=0,
        **overrides,
    )


@contextmanager
def request_deadline(at: float) -> Iterator[None]:
    token = current_deadline.set(at)
    try:
        yield
    finally:
        current_deadline.reset(token)


def retries_counted(allowed: str) -> float:
    labels = {"stage": "features", "allowed": allowed}
    return REGISTRY.get_sample_value("churnlab_stage_retries_total", labels) or 0.0


def addresses_called(transport) -> list[str]:
    return [call["address"] for call in transport.calls]


@pytest.mark.parametrize("failure", [refuse, time_out_connecting])
def test_a_connection_that_was_never_made_is_retried_on_another_replica(failure):
    transport = FakeTransport({A: failure, B: answer(body={"features": {}})})
    features = client(transport)
    assert features.call("POST", "/v1/features", {"records": []}) == {"features": {}}
    assert addresses_called(transport) == [A, B]


def test_the_time_inside_the_replica_that_answered_is_kept_for_the_answer_s_server_timing():
    """Of a refused attempt and an answered one, only the answered one's inner time: with the
    workflow's time for the stage, the rest of it is the hop's."""
    inside = {"Server-Timing": 'app;dur=3.5;desc="features"'}
    transport = FakeTransport({A: answer(503, **inside), B: answer(**inside)})
    token = server_timing.start()
    try:
        client(transport).call("GET", "/v1/model")
        gathered = server_timing.header(9.0, "gateway")
    finally:
        server_timing.stop(token)
    inner = 'features-service;dur=3.50;desc="inside the features service"'
    assert gathered == f'app;dur=9.00;desc="gateway", {inner}'


def test_a_503_is_retried_on_another_replica():
    transport = FakeTransport({A: answer(503), B: answer(body={"ok": True})})
    features = client(transport)
    assert features.call("GET", "/v1/model") == {"ok": True}
    assert addresses_called(transport) == [A, B]


def test_a_read_timeout_is_not_retried_and_has_all_the_time_left():
    """A retry would pile onto a slow stage, and the stage may have done the work."""
    transport = FakeTransport({A: hang, B: answer()})
    features = client(transport, stage_read_timeout_seconds=0.9)
    with pytest.raises(StageUnavailableError, match="ReadTimeoutError"):
        features.call("GET", "/v1/model")
    assert addresses_called(transport) == [A]
    assert 0.85 <= transport.calls[0]["timeout"].read_timeout <= 0.9


def test_a_connection_closed_without_an_answer_is_retried_elsewhere():
    """A replica shutting down closes its idle keep-alive connections; a call sent on one in
    that instant gets no answer, and another replica takes it (every stage call is idempotent)."""
    transport = FakeTransport({A: close_idle, B: answer(200, {"ok": True})})
    assert client(transport).call("GET", "/v1/model") == {"ok": True}
    assert addresses_called(transport) == [A, B]


def test_a_connection_reset_before_an_answer_is_retried_elsewhere():
    transport = FakeTransport({A: drop, B: answer(200, {"ok": True})})
    assert client(transport).call("GET", "/v1/model") == {"ok": True}
    assert addresses_called(transport) == [A, B]


def test_an_answer_cut_off_after_it_began_is_not_retried():
    transport = FakeTransport({A: cut_off, B: answer()})
    features = client(transport)
    with pytest.raises(StageUnavailableError, match="ProtocolError"):
        features.call("GET", "/v1/model")
    assert addresses_called(transport) == [A]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_5xx_are_not_retried_and_carry_the_stage_s_problem(status):
    problem = {"type": "urn:churnlab:problem:internal", "status": status}
    transport = FakeTransport({A: answer(status, problem), B: answer()})
    features = client(transport)
    with pytest.raises(StageUnavailableError, match=f"answered {status}") as failed:
        features.call("GET", "/v1/model")
    assert addresses_called(transport) == [A]
    assert failed.value.problem == problem


def test_the_stage_s_problem_answer_goes_with_the_failure():
    transport = FakeTransport(
        {A: answer(503, NOT_REPLICATED, "application/problem+json"), B: answer(503)}
    )
    ingest = client(transport, replicas=["10.0.0.1"])
    with pytest.raises(StageUnavailableError) as failed:
        ingest.call("POST", "/v1/ingest", {"rows": []})
    assert failed.value.problem == NOT_REPLICATED


def test_a_problem_is_known_by_its_content_type_or_its_type_field():
    untyped = {"title": "Service Unavailable", "status": 503}
    cases = [
        (answer(503, untyped, "application/problem+json; charset=utf-8"), untyped),
        (answer(503, NOT_REPLICATED), NOT_REPLICATED),
        (answer(503, {"detail": "plain JSON"}), None),
        (refuse, None),
    ]
    for behaviour, problem in cases:
        transport = FakeTransport({A: behaviour})
        with pytest.raises(StageUnavailableError) as failed:
            client(transport, replicas=["10.0.0.1"]).call("GET", "/v1/model")
        assert failed.value.problem == problem


def test_retries_add_at_most_a_tenth_to_the_calls_of_a_failing_stage():
    """Without a budget 1000 calls with 3 attempts each would make 2000 retries."""
    transport = FakeTransport({A: answer(503)})
    features = failing_stage(transport, FakeClock())  # time stands still: no reserve refill
    allowed, refused = retries_counted("true"), retries_counted("false")
    for _ in range(1000):
        with pytest.raises(StageUnavailableError, match="answered 503"):
            features.call("GET", "/v1/model")
    retries = len(transport.calls) - 1000
    assert 100 <= retries <= 100 + 3  # a tenth of the calls, plus the reserve
    assert retries_counted("true") - allowed == retries
    assert retries_counted("false") - refused >= 900


def test_the_retry_reserve_refills_with_time():
    clock = FakeClock()
    transport = FakeTransport({A: answer(503)})
    features = failing_stage(transport, clock, stage_attempts=2)
    made = []
    for wait in (0, 0, 0, 0, 1.0):
        clock.now += wait
        before = len(transport.calls)
        with pytest.raises(StageUnavailableError):
            features.call("GET", "/v1/model")
        made.append(len(transport.calls) - before)
    assert made == [2, 2, 2, 1, 2]  # three reserve retries, none left, one back a second later


def test_a_replica_is_ejected_after_three_failed_calls_in_a_row_not_one():
    transport = FakeTransport({A: refuse, B: answer(body={"features": {}})})
    features = client(transport)
    for _ in range(10):
        assert features.call("POST", "/v1/features", {"records": []}) == {"features": {}}
    assert addresses_called(transport).count(A) == 3
    assert f"{A}: NewConnectionError" in features.endpoints.problems()


def test_a_successful_call_resets_the_count_of_failures_in_a_row():
    transport = FakeTransport()
    features = client(transport, replicas=["10.0.0.1"])
    for status in (500, 500, 200, 500, 500):
        transport.behaviour[A] = answer(status)
        with suppress(StageUnavailableError):
            features.call("GET", "/v1/model")
    assert features.endpoints.available()
    transport.behaviour[A] = answer(500)
    with pytest.raises(StageUnavailableError, match="answered 500"):
        features.call("GET", "/v1/model")
    with pytest.raises(StageUnavailableError, match="every address is failing"):
        features.call("GET", "/v1/model")


def test_every_replica_down_gives_stage_unavailable_then_fails_fast_without_calling():
    transport = FakeTransport({A: refuse, B: refuse})
    features = client(transport, breaker_failures=0)
    for _ in range(6):
        with pytest.raises(StageUnavailableError) as failed:
            features.call("POST", "/v1/features", {})
        assert failed.value.stage == "features"
    assert addresses_called(transport).count(A) == addresses_called(transport).count(B) == 3
    calls = len(transport.calls)
    with pytest.raises(StageUnavailableError, match="every address is failing"):
        features.call("POST", "/v1/features", {})
    assert len(transport.calls) == calls  # nobody waited on a dead stage


def test_each_attempt_tells_the_stage_the_milliseconds_it_has_which_the_caller_has_left():
    clock = FakeClock()
    transport = FakeTransport()
    features = client(transport, clock=clock)
    with request_deadline(clock.now + 0.3):
        features.call("GET", "/v1/model")
    sent = transport.calls[-1]
    assert 299 <= int(sent["headers"][DEADLINE_HEADER]) <= 300
    assert sent["timeout"].total <= 0.3
    assert sent["timeout"].read_timeout <= 0.3


def test_a_retry_is_given_only_what_is_left_after_the_first_attempt():
    clock = FakeClock()
    transport = FakeTransport({A: taking(clock, 0.25, refuse), B: answer()})
    features = client(transport, clock=clock)
    features.call("GET", "/v1/model")
    first, retry = (int(call["headers"][DEADLINE_HEADER]) for call in transport.calls)
    assert first == 1000
    assert retry <= 750
    assert transport.calls[1]["timeout"].read_timeout <= 0.75


def test_without_a_request_deadline_the_stage_s_read_timeout_bounds_the_call():
    clock = FakeClock()
    transport = FakeTransport()
    client(transport, clock=clock).call("GET", "/v1/model")
    client(transport, clock=clock, read_timeout_seconds=2.5).call("GET", "/v1/model")
    client(transport, clock=clock).call("POST", "/v1/scores", {}, records=1001)
    sent = [call["headers"][DEADLINE_HEADER] for call in transport.calls]
    assert sent == ["1000", "2500", "1500"]  # 1 s, ingest's 2.5 s, 1 s + 1000 x 0.5 ms


def test_a_request_out_of_time_makes_no_attempt_and_does_not_count_against_the_stage():
    clock = FakeClock()
    transport = FakeTransport()
    features = client(transport, clock=clock, breaker_failures=1)
    with (
        request_deadline(clock.now - 0.01),
        pytest.raises(StageUnavailableError, match="deadline passed"),
    ):
        features.call("GET", "/v1/model")
    assert transport.calls == []
    assert features.breaker.fail_counter == 0
    assert features.call("GET", "/v1/model") == {}


def test_no_retry_starts_once_the_deadline_has_passed():
    clock = FakeClock()
    problem = {"type": "urn:churnlab:problem:overloaded"}
    transport = FakeTransport({A: taking(clock, 0.5, answer(503, problem)), B: answer()})
    features = client(transport, clock=clock)
    with (
        request_deadline(clock.now + 0.4),
        pytest.raises(StageUnavailableError, match="answered 503") as failed,
    ):
        features.call("GET", "/v1/model")
    assert addresses_called(transport) == [A]
    assert failed.value.problem == problem


def test_a_4xx_is_a_contract_bug_not_retried_and_not_counted_by_the_breaker():
    transport = FakeTransport(
        {A: answer(422, {"detail": "bad"}), B: answer(422, {"detail": "bad"})}
    )
    features = client(transport, breaker_failures=2)
    for _ in range(3):
        with pytest.raises(StageRejectedError):
            features.call("POST", "/v1/features", {})
    assert len(transport.calls) == 3
    assert features.readiness() != "circuit open"


def test_the_breaker_opens_after_repeated_failures_when_ejection_is_off():
    transport = FakeTransport({A: answer(503)})
    features = client(transport, replicas=["10.0.0.1"], eject_seconds=0, breaker_failures=3)
    for _ in range(3):
        with pytest.raises(StageUnavailableError):
            features.call("GET", "/v1/model")
    calls = len(transport.calls)
    with pytest.raises(StageUnavailableError, match="circuit open") as refused:
        features.call("GET", "/v1/model")
    assert refused.value.retry_after_seconds >= 1
    assert len(transport.calls) == calls
    assert features.readiness() == "circuit open"


def test_an_open_breaker_stops_counting_against_readiness_once_its_reset_time_is_up():
    """Without traffic pybreaker stays "open" for ever; readiness must not: after the reset
    time the health watch decides, and the next call is the breaker's trial."""
    now = [100.0]
    transport = FakeTransport({A: answer(503)})
    features = client(
        transport,
        replicas=["10.0.0.1"],
        clock=lambda: now[0],
        eject_seconds=0,
        breaker_failures=2,
        breaker_reset_seconds=5,
    )
    for _ in range(2):
        with pytest.raises(StageUnavailableError):
            features.call("GET", "/v1/model")
    assert features.readiness() == "circuit open"
    now[0] += 4.9
    assert features.readiness() == "circuit open"
    transport.behaviour[A] = answer(body={"ok": True})  # the stage is back
    features.health.check_once()
    now[0] += 0.2
    assert features.readiness() == READY  # though pybreaker still says open, until a call
    assert features.breaker.current_state == "open"


def test_with_retries_off_one_failure_is_final():
    transport = FakeTransport({A: refuse, B: answer()})
    features = client(transport, replicas=["10.0.0.1", "10.0.0.2"], stage_attempts=1)
    with pytest.raises(StageUnavailableError, match="NewConnectionError"):
        features.call("GET", "/v1/model")
    assert addresses_called(transport) == [A]


def test_the_request_id_goes_with_every_call():
    transport = FakeTransport()
    features = client(transport)
    token = current_request_id.set("rid-42")
    try:
        features.call("POST", "/v1/features", {"records": []})
    finally:
        current_request_id.reset(token)
    assert transport.calls[-1]["headers"]["X-Request-ID"] == "rid-42"
    assert transport.calls[-1]["headers"]["Content-Type"] == "application/json"


def test_readiness_comes_from_the_last_probe_round_and_never_calls_out():
    transport = FakeTransport({A: hang, B: answer(503)})
    features = client(transport)
    assert features.readiness() == "not checked yet"
    state = features.health.check_once()
    assert f"{A}: ReadTimeoutError" in state
    assert f"{B}: /readyz answered 503" in state
    assert transport.calls[-1]["headers"][DEADLINE_HEADER] == "500"  # the probe's timeout
    calls = len(transport.calls)
    assert features.readiness() == state
    assert len(transport.calls) == calls
    with pytest.raises(StageUnavailableError):  # one failed probe ejects at once
        features.call("GET", "/v1/model")
    transport.behaviour[B] = answer()
    assert features.health.check_once() == READY
    assert features.call("GET", "/v1/model") == {}
