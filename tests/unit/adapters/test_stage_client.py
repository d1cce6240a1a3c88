"""The gateway's stage client against a fake transport: retries, ejection, breaker, deadlines,
request ids and readiness, in milliseconds."""

import pytest

from churnlab.adapters.stage_client import StageClient
from churnlab.config import Settings
from churnlab.domain.errors import StageRejectedError, StageUnavailableError
from churnlab.request_context import current_request_id
from churnlab.workflow import READY
from tests.unit.adapters.fakes import FakeResolver, FakeTransport, answer, hang, refuse

A, B = "http://10.0.0.1:8000", "http://10.0.0.2:8000"


def client(transport, replicas=("10.0.0.1", "10.0.0.2"), clock=None, **overrides) -> StageClient:
    settings = Settings(health_every_seconds=0, **overrides)  # no background threads
    return StageClient(
        "features",
        "http://features:8000",
        settings,
        transport=transport,
        resolve=FakeResolver(features=list(replicas)),
        **({"clock": clock} if clock else {}),
    )


def test_a_refused_replica_is_retried_on_another_and_then_skipped():
    transport = FakeTransport({A: refuse, B: answer(body={"features": {}})})
    features = client(transport)
    for _ in range(4):
        assert features.call("POST", "/v1/features", {"records": []}) == {"features": {}}
    assert [call["address"] for call in transport.calls].count(A) == 1  # ejected after one


def test_a_hung_replica_costs_a_share_of_the_deadline_not_all_of_it():
    transport = FakeTransport({A: hang, B: answer()})
    features = client(transport, stage_read_timeout_seconds=0.9, stage_attempts=3)
    for _ in range(2):  # whichever replica comes first
        features.call("GET", "/v1/model")
    hung = next(call for call in transport.calls if call["address"] == A)
    assert hung["timeout"].read_timeout <= 0.9 / 3 + 0.01


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


def test_every_replica_down_gives_stage_unavailable_then_fails_fast_without_calling():
    transport = FakeTransport({A: refuse, B: refuse})
    features = client(transport)
    with pytest.raises(StageUnavailableError) as first:
        features.call("POST", "/v1/features", {})
    assert first.value.stage == "features"
    calls = len(transport.calls)
    with pytest.raises(StageUnavailableError, match="every address is failing"):
        features.call("POST", "/v1/features", {})
    assert len(transport.calls) == calls  # nobody waited on a dead stage


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
    outcomes = []
    for _ in range(2):
        try:
            features.call("GET", "/v1/model")
            outcomes.append("ok")
        except StageUnavailableError:
            outcomes.append("failed")
    assert "failed" in outcomes


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
    assert f"{B}: readyz answered 503" in state
    calls = len(transport.calls)
    assert features.readiness() == state
    assert len(transport.calls) == calls
    with pytest.raises(StageUnavailableError):  # both replicas were ejected by the probes
        features.call("GET", "/v1/model")
    transport.behaviour[B] = answer()
    assert features.health.check_once() == READY
    assert features.call("GET", "/v1/model") == {}
