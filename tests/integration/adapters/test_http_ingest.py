"""The gateway's ingest adapter against the real ingest service (its Flask app, no port): it
logs answered requests, spools them while ingest is down, replays them from one worker, and a
request ingest refuses goes to the dead letters instead of blocking the queue."""

import contextlib

import pytest

from churnlab.adapters.http_stages import HttpIngest
from churnlab.adapters.spool import Spool
from churnlab.adapters.stage_client import StageClient
from churnlab.config import Settings
from churnlab.domain.errors import (
    IdempotencyConflictError,
    StageUnavailableError,
    StorageUnavailableError,
)
from tests.integration.adapters.conftest import recording
from tests.integration.adapters.flask_transport import FlaskTransport


@pytest.fixture
def ingest_service(tmp_path):
    from services.ingest.app import create_app

    settings = Settings(prediction_log_path=tmp_path / "log.sqlite3", retention_every_seconds=0)
    return create_app(settings)


@pytest.fixture
def gateway_ingest(ingest_service, tmp_path):
    """The gateway's side: no background replay or health probes, so the test drives them."""
    settings = Settings(health_every_seconds=0, breaker_failures=0, eject_seconds=0)
    transport = FlaskTransport(ingest_service)
    client = StageClient("ingest", "http://ingest:8000", settings, transport=transport,
                         resolve=lambda host, port: ["10.0.0.1"])  # fmt: skip
    adapter = HttpIngest(client, Spool(tmp_path / "spool.sqlite3"), replay_every=0)
    return adapter, transport


def log_of(ingest_service):
    return ingest_service.extensions["churnlab.stage"].prediction_log


def test_an_answered_request_is_logged_and_a_key_replays(gateway_ingest, ingest_service, customer):
    adapter, _ = gateway_ingest
    first = recording([customer] * 2, "first", key="k")
    assert adapter.record(first).logged
    replay = adapter.record(recording([customer] * 2, "retry", key="k"))
    assert replay.replayed
    assert replay.recording.request_id == "first"
    other = customer.model_copy(update={"tenure": 40})
    with pytest.raises(IdempotencyConflictError):
        adapter.record(recording([other], "clash", key="k"))
    assert log_of(ingest_service).request_counts() == {"first": 2}


def test_while_ingest_is_down_requests_are_spooled_then_replayed(
    gateway_ingest, ingest_service, customer
):
    adapter, transport = gateway_ingest
    transport.down = True
    outcome = adapter.record(recording([customer], "while-down"))
    assert (outcome.logged, outcome.copies) == (False, 1)
    assert adapter.replay() == 0  # still down: nothing lost, nothing sent
    transport.down = False
    assert adapter.replay() == 1
    assert adapter.spool.depth()[0] == 0
    assert log_of(ingest_service).request_counts() == {"while-down": 1}


def test_a_poisoned_spool_drains(gateway_ingest, ingest_service, customer):
    """A spooled request that ingest refuses (422) goes to the dead letters; the requests
    behind it are logged."""
    adapter, transport = gateway_ingest
    transport.down = True
    adapter.record(recording([customer], "before"))
    poison = recording([customer], "poison")
    poison = poison.with_predictions([poison.predictions[0]._replace(churn_probability=2.0)])
    adapter.record(poison)
    adapter.record(recording([customer], "after"))
    transport.down = False
    assert adapter.replay() == 2
    assert adapter.spool.depth()[0] == 0
    [letter] = adapter.spool.dead_letters()
    assert letter["recording"]["request_id"] == "poison"
    assert "422" in letter["reason"]
    assert log_of(ingest_service).request_counts() == {"before": 1, "after": 1}


def test_a_spooled_key_that_named_another_request_in_the_log_is_a_dead_letter(
    gateway_ingest, ingest_service, customer
):
    adapter, transport = gateway_ingest
    adapter.record(recording([customer], "logged", key="k"))
    transport.down = True
    other = customer.model_copy(update={"tenure": 40})
    adapter.record(recording([other], "spooled", key="k"))  # the spool cannot tell
    transport.down = False
    assert adapter.replay() == 0
    [letter] = adapter.spool.dead_letters()
    assert "already used" in letter["reason"]


def test_one_worker_replays_at_a_time(gateway_ingest, customer):
    adapter, transport = gateway_ingest
    transport.down = True
    adapter.record(recording([customer], "spooled"))
    transport.down = False
    with adapter.spool.file.exclusive("replayer") as leading:  # another worker replays
        assert leading
        assert adapter.replay() == 0
    assert adapter.replay() == 1


def without_spool(transport: FlaskTransport) -> HttpIngest:
    settings = Settings(health_every_seconds=0, breaker_failures=0, eject_seconds=0)
    client = StageClient("ingest", "http://ingest:8000", settings, transport=transport,
                         resolve=lambda host, port: ["10.0.0.1"])  # fmt: skip
    return HttpIngest(client, None, replay_every=0)


def test_without_a_spool_ingest_unreachable_fails_and_kept_nothing(ingest_service, customer):
    adapter = without_spool(FlaskTransport(ingest_service, down=True))
    with pytest.raises(StageUnavailableError):  # the stage down: nothing sent, nothing kept
        adapter.record(recording([customer], "refused"))


def test_without_a_spool_a_timed_out_ingest_call_may_have_kept_it(ingest_service, customer):
    """The call reached ingest and no answer came: the record may be logged. The 503 says so,
    rather than "nothing was kept"."""
    adapter = without_spool(FlaskTransport(ingest_service, hung=True))
    with pytest.raises(StorageUnavailableError) as unanswered:
        adapter.record(recording([customer], "timed-out"))
    assert unanswered.value.kept == "unknown"


def test_a_keyed_retry_of_a_spooled_request_logs_the_answer_the_client_has(
    gateway_ingest, ingest_service, customer
):
    """R1 spooled (answered with ids A) while ingest was down; its retry, once ingest is
    back, logs R1 itself and answers with A, instead of logging the retry under new ids."""
    adapter, transport = gateway_ingest
    transport.down = True
    first = adapter.record(recording([customer], "first", key="k"))
    still_down = adapter.record(recording([customer], "retry-1", key="k"))
    assert still_down.replayed
    assert still_down.recording.predictions == first.recording.predictions
    transport.down = False
    retry = adapter.record(recording([customer], "retry-2", key="k"))
    assert (retry.replayed, retry.logged) == (True, True)
    assert retry.recording.predictions == first.recording.predictions
    assert log_of(ingest_service).request_counts() == {"first": 1}
    assert adapter.spool.depth()[0] == 0


def test_a_spooled_answer_superseded_by_another_replicas_retry_is_a_dead_letter(
    gateway_ingest, ingest_service, customer
):
    adapter, transport = gateway_ingest
    transport.down = True
    adapter.record(recording([customer], "spooled-here", key="k"))
    # Meanwhile another gateway replica logged a retry of the same request (other ids).
    log_of(ingest_service).record(recording([customer], "logged-elsewhere", key="k"))
    transport.down = False
    assert adapter.replay() == 0
    [letter] = adapter.spool.dead_letters()
    assert "superseded" in letter["reason"]
    assert log_of(ingest_service).request_counts() == {"logged-elsewhere": 1}


def test_a_full_spool_after_a_timed_out_ingest_call_says_it_may_be_kept(
    ingest_service, customer, tmp_path
):
    spool = Spool(tmp_path / "small-spool.sqlite3", max_bytes=48 * 1024)
    with contextlib.suppress(StorageUnavailableError):
        for index in range(1000):
            spool.put(recording([customer] * 10, f"filler-{index}"))
    settings = Settings(health_every_seconds=0, breaker_failures=0, eject_seconds=0)
    client = StageClient("ingest", "http://ingest:8000", settings,
                         transport=FlaskTransport(ingest_service, hung=True),
                         resolve=lambda host, port: ["10.0.0.1"])  # fmt: skip
    adapter = HttpIngest(client, spool, replay_every=0)
    with pytest.raises(StorageUnavailableError) as refused:
        adapter.record(recording([customer] * 10, "no-room"))
    assert refused.value.kept == "unknown"  # not the spool's "nothing"
