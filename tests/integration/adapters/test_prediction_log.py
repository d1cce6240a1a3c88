"""The SQLite prediction log for real: idempotency by id and by key, durability, bounded
waits, full disks, retention and erasure."""

import dataclasses
import fcntl
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.domain.errors import IdempotencyConflictError, StorageUnavailableError
from tests.integration.adapters.conftest import recording, write_concurrently


def rows(path, query: str = "SELECT count(*) FROM predictions"):
    with sqlite3.connect(path) as reader:
        return reader.execute(query).fetchall()


def test_a_request_is_logged_with_its_answer(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    answered = recording([customer, customer], "req-1")
    outcome = log.record(answered)
    assert (outcome.replayed, outcome.copies, outcome.logged) == (False, 1, True)
    first = log.get(answered.predictions[0].prediction_id)
    assert first["request_id"] == "req-1"
    assert first["record"]["customer_id"] == customer.customer_id
    assert (first["churn_probability"], first["churn"], first["risk"]) == (0.42, False, "medium")
    assert first["model_version"] == "v-test"
    assert log.get("missing") is None
    assert log.request_counts() == {"req-1": 2}


def test_a_reused_request_id_loses_nothing(tmp_path, customer):
    """The bug this log was rebuilt for: two requests with one X-Request-ID each answered
    "recorded", and only the first was."""
    log = PredictionLog(tmp_path / "log.sqlite3")
    other = customer.model_copy(update={"tenure": 40})
    log.record(recording([customer], "reuse-1"))
    log.record(recording([other], "reuse-1"))
    assert log.request_counts() == {"reuse-1": 2}


def test_a_single_and_a_batch_with_colliding_ids_are_both_kept(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    log.record(recording([customer], "dup-test-1:0"))
    log.record(recording([customer] * 3, "dup-test-1"))
    assert log.request_counts() == {"dup-test-1:0": 1, "dup-test-1": 3}


def test_a_retried_ingest_call_records_nothing_twice(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    answered = recording([customer] * 2, "req")
    log.record(answered)
    again = log.record(answered)  # the gateway's retry: the same server-made ids
    assert not again.replayed
    assert log.count() == 2


def test_the_same_key_and_body_get_the_first_answer_and_one_record(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    first = recording([customer] * 2, "try-1", key="key-1")
    retry = recording([customer] * 2, "try-2", key="key-1")  # new ids, same request
    assert not log.record(first).replayed
    replay = log.record(retry)
    assert replay.replayed
    assert replay.recording == first
    assert log.request_counts() == {"try-1": 2}


def test_the_same_key_with_another_body_is_a_conflict_and_records_nothing(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    other = customer.model_copy(update={"tenure": 40})
    log.record(recording([customer], "try-1", key="key-1"))
    with pytest.raises(IdempotencyConflictError):
        log.record(recording([other], "try-2", key="key-1"))
    assert log.request_counts() == {"try-1": 1}


def test_one_conflict_in_a_group_commit_leaves_the_others_recorded(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    other = customer.model_copy(update={"tenure": 40})
    log.record(recording([customer], "first", key="k"))
    results = log.record_all(
        [recording([other], "clash", key="k"), recording([other], "fine", key="k2")]
    )
    assert isinstance(results[0], IdempotencyConflictError)
    assert not results[1].replayed
    assert log.request_counts() == {"first": 1, "fine": 1}


def test_the_log_is_in_wal_mode_and_fsyncs_every_commit_by_default(tmp_path, customer):
    path = tmp_path / "log.sqlite3"
    log = PredictionLog(path)
    log.record(recording([customer]))
    connection = log.file.reading()
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    normal = PredictionLog(tmp_path / "normal.sqlite3", synchronous="NORMAL")
    assert normal.file.reading().execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(ValueError, match="synchronous"):
        PredictionLog(tmp_path / "bad.sqlite3", synchronous="SOMETIMES")


def test_concurrent_writers_lose_nothing(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    write_concurrently(log, customer)
    assert log.count() == 400


def test_a_writer_that_holds_the_lock_for_ever_gets_others_a_503_in_time(tmp_path, customer):
    """Another process stuck holding the write lock (a hung fsync, a stopped process): writes
    here give up at their deadline with a 503 instead of queueing for ever."""
    path = tmp_path / "log.sqlite3"
    log = PredictionLog(path, lock_timeout_seconds=0.3)
    log.record(recording([customer], "before"))
    stuck = os.open(f"{path}.write-lock", os.O_RDWR)
    fcntl.flock(stuck, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError) as refused:
            log.record(recording([customer], "while-stuck"), time.monotonic() + 0.3)
        assert time.monotonic() - started < 2
        assert refused.value.kept == "nothing"
    finally:
        os.close(stuck)
    log.record(recording([customer], "after"))
    assert log.request_counts() == {"before": 1, "after": 1}


def test_many_processes_opening_a_new_log_at_once_all_succeed(tmp_path):
    """gunicorn starts its workers together; each opens (and may create) the log."""
    import multiprocessing

    path = tmp_path / "fresh.sqlite3"
    context = multiprocessing.get_context("fork")
    processes = 16
    start = context.Barrier(processes)
    outcomes = context.Queue()
    workers = [
        context.Process(target=_open_together, args=(path, start, outcomes))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(outcomes.get(timeout=5) for _ in workers) == ["ok"] * processes


def _open_together(path, start, outcomes) -> None:
    start.wait()
    try:
        PredictionLog(path).count()
        outcomes.put("ok")
    except sqlite3.Error as error:
        outcomes.put(str(error))


def test_a_write_returns_only_once_another_connection_can_read_it(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    outcomes = []

    def write(worker: int) -> None:
        for index in range(30):
            answered = recording([customer], f"w{worker}-{index}")
            log.record(answered)
            with sqlite3.connect(tmp_path / "log.sqlite3") as reader:
                outcomes.append(
                    reader.execute(
                        "SELECT count(*) FROM predictions WHERE prediction_id = ?",
                        (answered.predictions[0].prediction_id,),
                    ).fetchone()[0]
                )

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [1] * 180


def test_a_full_disk_refuses_records_and_acknowledges_only_what_it_kept(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) makes writes fail as a full disk does, for any user."""
    import multiprocessing

    path = tmp_path / "log.sqlite3"
    context = multiprocessing.get_context("fork")
    outcomes = context.Queue()
    writer = context.Process(target=_write_until_full, args=(path, outcomes))
    writer.start()
    writer.join(60)
    acknowledged, refusal, readiness = outcomes.get(timeout=5)
    assert refusal is not None, "the size limit was never reached"
    assert "prediction log cannot store records" in refusal
    assert readiness is not None  # the readiness probe says why, instead of "ready"
    logged = dict(rows(path, "SELECT request_id, count(*) FROM predictions GROUP BY 1"))
    assert all(logged.get(request_id) == 5 for request_id in acknowledged)


def _write_until_full(path, outcomes) -> None:
    import resource
    import signal

    from churnlab.domain.schema import CustomerRecord
    from churnlab.ml.data import load_dataset
    from tests.conftest import DATASET

    customer = CustomerRecord.model_validate(load_dataset(DATASET)[0].to_dict("records")[0])
    log = PredictionLog(path)
    log.count()  # the file exists before the limit is set
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    limit = path.stat().st_size + 256 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    acknowledged, refusal = [], None
    for index in range(20_000):
        try:
            log.record(recording([customer] * 5, f"r{index}"))
        except StorageUnavailableError as error:
            refusal = str(error)
            break
        acknowledged.append(f"r{index}")
    outcomes.put((acknowledged, refusal, log.check()))


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="microseconds")


def test_retention_deletes_by_age_with_keys_and_keeps_the_rest(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    log.record(recording([customer] * 3, "old", key="old-key", received_at=days_ago(40)))
    log.record(recording([customer], "new", key="new-key"))
    assert log.enforce_retention(max_age_seconds=30 * 86_400, max_rows=0) == {"age": 3, "rows": 0}
    assert log.request_counts() == {"new": 1}
    assert rows(log.file.path, "SELECT key FROM idempotency_keys") == [("new-key",)]
    # The old key is free again: a new request under it is recorded, not a conflict.
    assert not log.record(recording([customer], "reuse", key="old-key")).replayed


def test_retention_keeps_at_most_max_rows_the_newest(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    for age in (5, 4, 3, 2, 1):
        log.record(recording([customer] * 2, f"{age}-days-old", received_at=days_ago(age)))
    assert log.enforce_retention(max_age_seconds=0, max_rows=5) == {"age": 0, "rows": 6}
    assert log.request_counts() == {"2-days-old": 2, "1-days-old": 2}


def test_retention_deletes_in_batches_that_let_writes_in(tmp_path, customer, monkeypatch):
    import churnlab.adapters.prediction_log as prediction_log

    monkeypatch.setattr(prediction_log, "RETENTION_BATCH", 10)
    log = PredictionLog(tmp_path / "log.sqlite3")
    for index in range(7):
        log.record(recording([customer] * 5, f"old-{index}", received_at=days_ago(60)))
    statements = []
    log.file.reading()  # this thread's connection, traced below
    log.file._local.connection.set_trace_callback(statements.append)
    assert log.enforce_retention(max_age_seconds=86_400, max_rows=0)["age"] == 35
    assert sum(s.startswith("DELETE FROM predictions") for s in statements) == 4  # 10+10+10+5
    assert log.count() == 0


def test_only_one_process_at_a_time_enforces_retention(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    log.record(recording([customer], "old", received_at=days_ago(40)))
    with log.file.exclusive("maintenance") as leading:
        assert leading
        assert log.enforce_retention(max_age_seconds=86_400, max_rows=0) == {}
    assert log.enforce_retention(max_age_seconds=86_400, max_rows=0) == {"age": 1, "rows": 0}


def test_erasure_deletes_the_customer_and_refuses_their_older_records_later(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    other = customer.model_copy(update={"customer_id": "KEEP-ME"})
    spooled_earlier = dataclasses.replace(
        recording([customer, other], "spooled", received_at=days_ago(0.01)), spooled=True
    )
    log.record(recording([customer], "live", key="their-key"))
    assert log.erase(customer.customer_id) == 1
    assert log.erase(customer.customer_id) == 0  # repeatable
    # A gateway's spool replays a request received before the erasure: only the other
    # customer's prediction is logged.
    log.record(spooled_earlier)
    logged = rows(log.file.path, "SELECT customer_id FROM predictions")
    assert logged == [("KEEP-ME",)]
    # No trace of the id itself: a salted hash only.
    assert customer.customer_id not in str(rows(log.file.path, "SELECT * FROM erasures"))
    # A retry under their key gets a 409: its answer is gone, and recording it again would
    # bring back what was erased.
    with pytest.raises(IdempotencyConflictError, match="erased"):
        log.record(recording([customer], "retry", key="their-key"))
    # A new request of theirs, received after the erasure, is kept.
    log.record(recording([customer], "after"))
    assert log.request_counts()["after"] == 1


def test_a_live_request_is_never_checked_against_a_tombstone(tmp_path, customer):
    """Only a spool's replay is: a live request's received_at comes from another machine's
    clock, which may run behind the one that wrote the tombstone."""
    log = PredictionLog(tmp_path / "log.sqlite3")
    log.erase(customer.customer_id)
    log.record(recording([customer], "clock-behind", received_at=days_ago(0.01)))
    assert log.request_counts() == {"clock-behind": 1}


def test_a_replayed_key_that_lost_a_prediction_to_erasure_is_not_replayed(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    other = customer.model_copy(update={"customer_id": "KEEP-ME"})
    log.erase(customer.customer_id)
    spooled = dataclasses.replace(
        recording([customer, other], "spooled", key="k", received_at=days_ago(0.01)),
        spooled=True,
    )
    log.record(spooled)
    with pytest.raises(IdempotencyConflictError, match="erased"):
        log.record(recording([customer, other], "retry", key="k"))
