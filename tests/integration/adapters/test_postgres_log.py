"""The cluster's prediction log against a real PostgreSQL server: idempotency, concurrency,
a server that goes away and comes back, and acknowledgements that wait for a standby: a
commit no standby confirms is reported as kept on one copy, a retry of it still needs the
standby, and a primary with no standby required refuses writes."""

import dataclasses
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from churnlab.adapters.postgres_log import PostgresPredictionLog
from churnlab.bootstrap import ingest_stage
from churnlab.config import Settings
from churnlab.domain.errors import (
    IdempotencyConflictError,
    NotReplicatedError,
    StorageUnavailableError,
)
from tests.integration.adapters.conftest import recording, write_concurrently


def test_a_request_is_logged_with_its_answer_and_ids_never_collide(postgres_url, customer):
    log = PostgresPredictionLog(postgres_url, single_copy=True)  # no standby on this server
    answered = recording([customer, customer], "reuse-1")
    outcome = log.record(answered)
    assert (outcome.replayed, outcome.copies) == (False, 1)  # one copy, and it says so
    log.record(recording([customer], "reuse-1"))
    log.record(recording([customer], "reuse-1:0"))
    assert log.request_counts() == {"reuse-1": 3, "reuse-1:0": 1}
    first = log.get(answered.predictions[0].prediction_id)
    assert (first["request_id"], first["churn_probability"]) == ("reuse-1", 0.42)
    assert first["record"]["customer_id"] == customer.customer_id
    assert log.get("missing") is None


def test_keys_replay_the_first_answer_or_conflict(postgres_url, customer):
    log = PostgresPredictionLog(postgres_url, single_copy=True)
    other = customer.model_copy(update={"tenure": 40})
    first = recording([customer] * 2, "try-1", key="key-1")
    log.record(first)
    replay = log.record(recording([customer] * 2, "try-2", key="key-1"))
    assert replay.replayed
    assert replay.recording == first
    with pytest.raises(IdempotencyConflictError):
        log.record(recording([other], "try-3", key="key-1"))
    twice = log.record_all([recording([other], "a", key="k2"), recording([other], "b", key="k2")])
    assert [r.replayed for r in twice] == [False, True]  # the same key twice in one commit
    assert log.request_counts() == {"try-1": 2, "a": 1}


def test_concurrent_writers_lose_nothing(postgres_url, customer):
    log = PostgresPredictionLog(postgres_url, single_copy=True)
    write_concurrently(log, customer)
    assert log.count() == 400


def test_a_stopped_server_fails_writes_fast_and_readiness_says_why(
    postgres_server, postgres_url, customer
):
    log = PostgresPredictionLog(postgres_url, connect_timeout_seconds=1, single_copy=True)
    assert log.check() is None
    postgres_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError) as refused:
            log.record(recording([customer], "while-down"))
        assert time.monotonic() - started < 5
        assert refused.value.kept == "nothing"
        assert log.check() is not None
    finally:
        postgres_server.start()
    log.record(recording([customer], "after-restart"))  # it reconnects by itself
    assert log.check() is None
    assert log.request_counts() == {"after-restart": 1}


def test_no_standby_required_means_no_write_and_a_503_that_says_so(postgres_url, customer):
    """pg_auto_failover's wait_primary: synchronous_standby_names is empty, so a commit would
    return with the only copy on this node. Nothing is written; readiness says degraded."""
    log = PostgresPredictionLog(postgres_url)
    with pytest.raises(StorageUnavailableError) as refused:
        log.record(recording([customer], "alone"))
    assert refused.value.kept == "nothing"
    assert "no synchronous standby" in refused.value.reason
    assert log.check().startswith("degraded")
    assert log.request_counts() == {}


@pytest.fixture
def absent_standby(postgres_server, postgres_url):
    """The primary requires a standby that is not there: every commit waits for it."""
    postgres_server.sql("ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'")
    postgres_server.sql("SELECT pg_reload_conf()")
    yield postgres_server
    postgres_server.sql("ALTER SYSTEM RESET synchronous_standby_names")
    postgres_server.sql("SELECT pg_reload_conf()")


def test_a_commit_no_standby_confirms_is_reported_kept_on_one_copy(
    absent_standby, postgres_url, customer
):
    log = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5)
    assert log.check() is None  # a standby is required, so writes are taken
    started = time.monotonic()
    with pytest.raises(NotReplicatedError) as unconfirmed:
        log.record(recording([customer], "unconfirmed", key="k"))
    assert time.monotonic() - started < 3
    assert unconfirmed.value.kept == "one copy"
    assert "SQLSTATE" in unconfirmed.value.reason  # recognised by severity, not by text
    assert log.request_counts() == {"unconfirmed": 1}  # the primary kept it


def test_a_retry_after_an_unconfirmed_commit_still_waits_for_the_standby(
    absent_standby, postgres_url, customer
):
    """The bug: the retry's INSERT conflicted, wrote nothing, took no transaction id, and so
    its commit was answered 200 at once with the standby still missing."""
    log = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5)
    first = recording([customer], "first-try", key="k")
    with pytest.raises(NotReplicatedError):
        log.record(first)
    for attempt in range(3):  # the same key: it inserts nothing, and still is not confirmed
        with pytest.raises(NotReplicatedError):
            log.record(recording([customer], f"retry-{attempt}", key="k"))
    with pytest.raises(NotReplicatedError):  # a retried ingest call: the same ids
        log.record(first)
    assert log.request_counts() == {"first-try": 1}


def test_with_the_standby_back_the_retry_gets_the_first_answer(
    postgres_server, postgres_url, customer
):
    log = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5, single_copy=True)
    postgres_server.sql("ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'")
    postgres_server.sql("SELECT pg_reload_conf()")
    try:
        first = recording([customer], "first-try", key="k")
        strict = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5)
        with pytest.raises(NotReplicatedError):
            strict.record(first)
    finally:
        postgres_server.sql("ALTER SYSTEM RESET synchronous_standby_names")
        postgres_server.sql("SELECT pg_reload_conf()")
    replay = log.record(recording([customer], "retry", key="k"))
    assert replay.replayed
    assert replay.recording.request_id == "first-try"


def test_single_copy_mode_accepts_and_says_one_copy(absent_standby, postgres_url, customer):
    log = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5, single_copy=True)
    assert log.record(recording([customer], "alone")).copies == 1


def no_retention_floor(server) -> None:
    """As the owner: retention may reach records of any age (the tests' shifted clocks)."""
    server.sql("UPDATE log_settings SET value = '0' WHERE name = 'min_retention_seconds'")


def test_retention_drops_old_days_and_keeps_today(postgres_server, postgres_url, customer):
    no_retention_floor(postgres_server)
    log = PostgresPredictionLog(postgres_url, single_copy=True)
    now = datetime.now(UTC)
    old = (now - timedelta(days=1)).isoformat()  # yesterday's partition exists from the start
    log.record(recording([customer] * 3, "yesterday", key="old", received_at=old))
    log.record(recording([customer], "today"))
    # A day later, with a day's retention: yesterday's partition ends before the cutoff.
    kept = log.enforce_retention(max_age_seconds=86_400, max_rows=0, now=now + timedelta(days=1))
    assert kept["age"] == 3
    assert log.request_counts() == {"today": 1}
    yesterday = f"predictions_p{(now - timedelta(days=1)):%Y%m%d}"
    assert not log._read("SELECT 1 FROM pg_class WHERE relname = %s", yesterday)
    assert not log._read("SELECT 1 FROM idempotency_keys WHERE key = 'old'")


def test_retention_by_rows_and_erasure_with_a_tombstone(postgres_server, postgres_url, customer):
    no_retention_floor(postgres_server)
    log = PostgresPredictionLog(postgres_url, single_copy=True)
    now = datetime.now(UTC)
    for minutes in (30, 20, 10):
        received = (now - timedelta(minutes=minutes)).isoformat()
        log.record(recording([customer] * 2, f"{minutes}-min", received_at=received))
    assert log.enforce_retention(max_age_seconds=0, max_rows=3)["rows"] == 4
    assert log.request_counts() == {"10-min": 2}
    other = customer.model_copy(update={"customer_id": "KEEP-ME"})
    earlier = dataclasses.replace(
        recording([customer, other], "spooled", received_at=now.isoformat()), spooled=True
    )
    assert log.erase(customer.customer_id) == 2
    log.record(earlier)  # replayed after the erasure: the erased customer's row is refused
    assert log.request_counts() == {"spooled": 1}
    log.record(recording([customer], "live", received_at=now.isoformat()))  # live: kept
    assert log.request_counts() == {"spooled": 1, "live": 1}


def test_an_erasure_is_held_to_the_standard_of_a_write(absent_standby, postgres_url, customer):
    """With a standby required and absent, an erasure is not confirmed either: a 503 that
    says it was kept on one copy (and the retry, idempotent, finishes it)."""
    log = PostgresPredictionLog(postgres_url, write_timeout_seconds=0.5)
    with pytest.raises(NotReplicatedError):
        log.erase(customer.customer_id)


def test_a_full_disk_refuses_writes_with_a_503(postgres_server, postgres_url, customer):
    """The log's default partition in a tablespace on a 2 MiB tmpfs: once it is full, writes
    fail cleanly with a 503 that says nothing was kept, and nothing more is acknowledged."""
    tiny = postgres_server.data_dir.parent / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(tiny)])
    if mounted.returncode:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and can mount a tmpfs")
        pytest.skip("cannot mount a small filesystem here (not root)")
    try:
        subprocess.run(["chown", "postgres", str(tiny)], check=True)
        log = PostgresPredictionLog(postgres_url, single_copy=True)
        assert log.check() is None  # connected: the schema exists
        postgres_server.sql(f"CREATE TABLESPACE tiny LOCATION '{tiny}'")
        postgres_server.sql("ALTER TABLE predictions_default SET TABLESPACE tiny")
        long_ago = "2000-01-01T00:00:00+00:00"  # no day partition: the default, on tiny
        acknowledged, refused = 0, None
        for index in range(5000):
            try:
                log.record(recording([customer] * 20, f"r{index}", received_at=long_ago))
                acknowledged += 20
            except StorageUnavailableError as error:
                refused = error
                break
        assert refused is not None, "the small filesystem never filled"
        assert refused.kept == "nothing"
        assert sum(log.request_counts().values()) == acknowledged
    finally:
        postgres_server.sql("DROP TABLE IF EXISTS predictions CASCADE")
        postgres_server.sql("DROP TABLESPACE IF EXISTS tiny")
        subprocess.run(["umount", str(tiny)], check=False)


def test_a_url_makes_ingest_write_to_postgres(postgres_url, tmp_path, customer):
    settings = Settings(
        prediction_log_url=postgres_url,
        prediction_log_path=tmp_path / "unused",
        prediction_log_single_copy=True,
        retention_every_seconds=0,
    )
    stage = ingest_stage(settings)
    assert isinstance(stage.prediction_log, PostgresPredictionLog)
    assert stage.record(recording([customer], "wired")).logged
    assert stage.prediction_log.request_counts() == {"wired": 1}
    assert not (tmp_path / "unused").exists()


def test_the_monolith_records_predictions_in_postgres(postgres_url, record_body):
    from monolith.app import create_app
    from tests.conftest import MODEL_DIR

    app = create_app(
        Settings(
            model_dir=MODEL_DIR,
            prediction_log_url=postgres_url,
            prediction_log_single_copy=True,
            retention_every_seconds=0,
        )
    )
    assert app.extensions["churnlab.workflow"].inference.wait(30), "model did not load"
    client = app.test_client()
    answer = client.post("/v1/predict", json=record_body, headers={"X-Request-ID": "via-api"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["copies"] == 1
    assert client.get("/readyz").status_code == 200
    log = PostgresPredictionLog(postgres_url)
    assert log.get(answer.get_json()["prediction_id"])["request_id"] == "via-api"


def test_through_the_monolith_on_postgres_keys_replay_and_the_audit_reads(
    postgres_url, tmp_path, record_body
):
    from monolith.app import create_app
    from tests.conftest import MODEL_DIR

    key_file = tmp_path / "audit-key"
    key_file.write_text("audit-key-for-postgres-0123")
    app = create_app(
        Settings(
            model_dir=MODEL_DIR,
            prediction_log_url=postgres_url,
            prediction_log_single_copy=True,
            retention_every_seconds=0,
            audit_key_file=key_file,
        )
    )
    assert app.extensions["churnlab.workflow"].inference.wait(30), "model did not load"
    client = app.test_client()
    first = client.post("/v1/predict", json=record_body, headers={"Idempotency-Key": "pg-k"})
    retry = client.post("/v1/predict", json=record_body, headers={"Idempotency-Key": "pg-k"})
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json() == first.get_json()
    auth = {"Authorization": "Bearer audit-key-for-postgres-0123"}
    read = client.get(f"/v1/predictions/{first.get_json()['prediction_id']}", headers=auth)
    assert read.status_code == 200, read.get_data(as_text=True)
    assert read.get_json()["record"] == record_body


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM predictions",
        "UPDATE predictions SET risk = 'low'",
        "TRUNCATE idempotency_keys",
        "DROP TABLE predictions_default",
        "ALTER TABLE erasures ADD COLUMN x int",
        "DELETE FROM erasures",
        "UPDATE log_settings SET value = 'known'",
        "CREATE TABLE elsewhere (x int)",
        "SELECT rolpassword FROM pg_authid",
        "COPY (SELECT 1) TO PROGRAM 'true'",
        "CREATE ROLE intruder LOGIN SUPERUSER",
    ],
)
def test_ingest_s_role_may_only_read_and_insert(postgres_url, customer, statement):
    """Least privilege: the role ingest connects as reads the log and inserts into it; what
    else it does (partitions, erasure, retention) goes through the schema's functions."""
    import psycopg

    PostgresPredictionLog(postgres_url, single_copy=True).record(recording([customer], "mine"))
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        assert connection.execute(superuser).fetchone() == (False,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(statement)


def test_without_the_schema_installed_the_log_is_not_ready_and_says_why(postgres_server, customer):
    """The log never makes its own schema: on an empty database it refuses, 503, nothing kept."""
    postgres_server.sql("DROP DATABASE IF EXISTS empty")
    postgres_server.sql("CREATE DATABASE empty")
    log = PostgresPredictionLog(
        postgres_server.conninfo.replace("dbname=postgres", "dbname=empty"), single_copy=True
    )
    with pytest.raises(StorageUnavailableError) as refused:
        log.record(recording([customer], "no-schema"))
    assert refused.value.kept == "nothing"
    assert "churnlab_make_partitions" in refused.value.reason  # the schema's, not there
    assert log.check() is not None


def test_the_writer_s_functions_keep_the_database_s_bounds_not_the_caller_s(postgres_url, customer):
    """Asked for the worst, each function does only what the database allows: retention never
    reaches records younger than the floor (a day by default), partitions are made only around
    today, and a tombstone's date never moves back, so a replay stays refused."""
    import psycopg

    log = PostgresPredictionLog(postgres_url, single_copy=True)
    log.record(recording([customer] * 3, "recent"))
    other = customer.model_copy(update={"customer_id": "KEEP-ME"})
    log.record(recording([other], "kept"))
    spooled = dataclasses.replace(recording([customer], "replayed-late"), spooled=True)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        run = lambda query: connection.execute(query).fetchone()[0]  # noqa: E731
        assert run("SELECT churnlab_delete_before('infinity', true, 2147483647)") == 0
        assert run("SELECT churnlab_drop_days('infinity')") == 0
        for days in ("current_date - 30, current_date", "current_date, current_date + 400"):
            with pytest.raises(psycopg.errors.RaiseException):
                connection.execute(f"SELECT churnlab_make_partitions({days})")
        assert run(f"SELECT churnlab_erase('{customer.customer_id}')") == 3
        first = run("SELECT erased_at FROM erasures")
        assert run(f"SELECT churnlab_erase('{customer.customer_id}')") == 0
        assert run("SELECT erased_at FROM erasures") >= first
    assert log.request_counts() == {"kept": 1}
    log.record(spooled)  # received before the erasure: refused, its tombstone found
    assert log.request_counts() == {"kept": 1}
