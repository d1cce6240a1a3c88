"""The cluster's prediction log against a real PostgreSQL server: idempotency, concurrency,
a server that goes away and comes back, and a commit the standby never confirms."""

import time

import pytest

from churnlab.adapters.postgres_log import PostgresPredictionLog
from churnlab.bootstrap import ingest_stage
from churnlab.config import Settings
from churnlab.domain.errors import StorageUnavailableError
from churnlab.domain.ingest import accept, ingest
from tests.integration.adapters.conftest import write_concurrently


def test_recording_is_idempotent_by_request_id(postgres_url, customer):
    log = PostgresPredictionLog(postgres_url)
    accepted = accept([customer, customer], "req")
    assert ingest(log, accepted) == 2
    assert ingest(log, accepted) == 0  # a retry records nothing twice
    assert sorted(log.request_ids()) == ["req:0", "req:1"]
    assert log.get("req:0")["customer_id"] == customer.customer_id
    assert log.get("missing") is None


def test_concurrent_writers_lose_nothing(postgres_url, customer):
    log = PostgresPredictionLog(postgres_url)
    write_concurrently(log, customer)
    assert log.count() == 400


def test_a_stopped_server_fails_writes_fast_and_readiness_says_why(
    postgres_server, postgres_url, customer
):
    log = PostgresPredictionLog(postgres_url, connect_timeout_seconds=1)
    assert log.check() is None
    postgres_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError):
            ingest(log, accept([customer], "while-down"))
        assert time.monotonic() - started < 5
        assert log.check() is not None
    finally:
        postgres_server.start()
    assert ingest(log, accept([customer], "after-restart")) == 1  # it reconnects by itself
    assert log.check() is None
    assert log.request_ids() == ["after-restart"]


def test_a_commit_the_standby_never_confirms_is_not_acknowledged(
    postgres_server, postgres_url, customer
):
    """Synchronous replication to a standby that is not there: the write waits, is cancelled
    after its budget and fails, so the client retries instead of trusting one copy."""
    log = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5)
    assert log.check() is None  # the table exists before replication is required
    postgres_server.sql("ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'")
    postgres_server.sql("SELECT pg_reload_conf()")
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="not confirmed by the standby"):
            ingest(log, accept([customer], "unconfirmed"))
        assert time.monotonic() - started < 3
    finally:
        postgres_server.sql("ALTER SYSTEM RESET synchronous_standby_names")
        postgres_server.sql("SELECT pg_reload_conf()")
    # The primary kept its local copy; the client's retry records nothing twice.
    assert ingest(log, accept([customer], "unconfirmed")) == 0
    assert log.request_ids() == ["unconfirmed"]


def test_a_url_makes_ingest_write_to_postgres(postgres_url, tmp_path, customer):
    settings = Settings(prediction_log_url=postgres_url, prediction_log_path=tmp_path / "unused")
    stage = ingest_stage(settings)
    assert isinstance(stage.prediction_log, PostgresPredictionLog)
    assert stage.record(accept([customer], "wired")).result() is True
    assert stage.prediction_log.request_ids() == ["wired"]
    assert not (tmp_path / "unused").exists()


def test_the_monolith_records_predictions_in_postgres(postgres_url, tmp_path, record_body):
    from monolith.app import create_app
    from tests.conftest import MODEL_DIR

    app = create_app(Settings(model_dir=MODEL_DIR, prediction_log_url=postgres_url))
    assert app.extensions["churnlab.workflow"].inference.wait(30), "model did not load"
    client = app.test_client()
    answer = client.post("/v1/predict", json=record_body, headers={"X-Request-ID": "via-api"})
    assert answer.status_code == 200, answer.get_json()
    assert client.get("/readyz").status_code == 200
    log = PostgresPredictionLog(postgres_url)
    assert log.get("via-api")["customer_id"] == record_body["customer_id"]
