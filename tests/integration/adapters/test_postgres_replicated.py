"""The cluster's prediction log against a primary with a real synchronous standby: answers
say two copies, a frozen standby gets no write acknowledged (first "one copy", later retries
too), and once it thaws the same key gets the first answer."""

import pytest

from churnlab.adapters.postgres_log import PostgresPredictionLog
from churnlab.domain.errors import NotReplicatedError
from tests.integration.adapters.conftest import recording


def test_writes_are_confirmed_by_the_standby_and_say_two_copies(replicated_url, customer):
    log = PostgresPredictionLog(replicated_url)
    assert log.check() is None
    outcome = log.record(recording([customer] * 2, "replicated", key="k"))
    assert outcome.copies == 2
    replay = log.record(recording([customer] * 2, "retry", key="k"))
    assert (replay.replayed, replay.copies) == (True, 2)
    assert replay.recording.request_id == "replicated"
    assert log.stats()["sync_standbys"] == 1


def test_a_frozen_standby_gets_no_write_acknowledged_and_the_retry_finishes_it(
    replicated_postgres, replicated_url, customer
):
    log = PostgresPredictionLog(replicated_url, write_timeout_seconds=0.5)
    log.check()  # connected: the schema exists before the standby freezes
    first = recording([customer], "first-try", key="frozen")
    with replicated_postgres.standby_frozen():
        with pytest.raises(NotReplicatedError):
            log.record(first)
        for attempt in range(2):  # retries insert nothing, and still wait for the standby
            with pytest.raises(NotReplicatedError):
                log.record(recording([customer], f"retry-{attempt}", key="frozen"))
    after = log.record(recording([customer], "after-thaw", key="frozen"))
    assert (after.replayed, after.copies) == (True, 2)
    assert after.recording == first
    assert log.request_counts() == {"first-try": 1}


def test_through_the_monolith_keys_replay_and_the_audit_reads(
    replicated_url, tmp_path, record_body
):
    from churnlab.config import Settings
    from monolith.app import create_app
    from tests.conftest import MODEL_DIR

    key_file = tmp_path / "audit-key"
    key_file.write_text("audit-key-for-postgres-0123")
    settings = Settings(
        model_dir=MODEL_DIR,
        prediction_log_url=replicated_url,
        retention_every_seconds=0,
        audit_key_file=key_file,
    )
    replicas = [create_app(settings), create_app(settings)]  # two monolith replicas, one log
    for app in replicas:
        assert app.extensions["churnlab.workflow"].inference.wait(30), "model did not load"
    first = (
        replicas[0]
        .test_client()
        .post("/v1/predict", json=record_body, headers={"Idempotency-Key": "pg-k"})
    )
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["copies"] == 2
    retry = (
        replicas[1]
        .test_client()
        .post("/v1/predict", json=record_body, headers={"Idempotency-Key": "pg-k"})
    )
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json() == first.get_json()
    auth = {"Authorization": "Bearer audit-key-for-postgres-0123"}
    read = (
        replicas[1]
        .test_client()
        .get(f"/v1/predictions/{first.get_json()['prediction_id']}", headers=auth)
    )
    assert read.status_code == 200, read.get_data(as_text=True)
    assert read.get_json()["record"] == record_body
    assert "T" in read.get_json()["received_at"]  # ISO 8601, as the SQLite log spells it
