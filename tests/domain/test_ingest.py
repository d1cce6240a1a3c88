import sqlite3
import threading

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.domain.ingest import accept, ingest


def test_a_single_record_keeps_the_request_id(customer):
    assert accept([customer], "abc").record_ids == ["abc"]


def test_batch_records_get_indexed_ids(customer):
    assert accept([customer] * 3, "abc").record_ids == ["abc:0", "abc:1", "abc:2"]


def test_recording_is_idempotent_by_request_id(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    accepted = accept([customer, customer], "req")
    assert ingest(log, accepted) == 2
    assert ingest(log, accepted) == 0  # a retry records nothing twice
    assert sorted(log.request_ids()) == ["req:0", "req:1"]
    assert log.get("req:0")["customer_id"] == customer.customer_id


def test_the_log_is_in_wal_mode_and_durable_across_connections(tmp_path, customer):
    path = tmp_path / "log.sqlite3"
    ingest(PredictionLog(path), accept([customer], "one"))
    with sqlite3.connect(path) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT count(*) FROM accepted_records").fetchone()[0] == 1


def test_concurrent_writers_lose_nothing(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")

    def write(worker: int) -> None:
        for index in range(50):
            ingest(log, accept([customer], f"w{worker}-{index}"))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.count() == 400


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
