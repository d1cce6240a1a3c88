"""The SQLite prediction log for real: idempotency, WAL, concurrent writers, full disks."""

import sqlite3
import threading

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.domain.ingest import accept, ingest
from tests.integration.adapters.conftest import write_concurrently


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
    write_concurrently(log, customer)
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


def test_a_write_returns_only_once_another_connection_can_read_it(tmp_path, customer):
    log = PredictionLog(tmp_path / "log.sqlite3")
    outcomes = []

    def write(worker: int) -> None:
        for index in range(30):
            ingest(log, accept([customer], f"w{worker}-{index}"))
            with sqlite3.connect(tmp_path / "log.sqlite3") as reader:
                outcomes.append(
                    reader.execute(
                        "SELECT count(*) FROM accepted_records WHERE request_id = ?",
                        (f"w{worker}-{index}",),
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
    with sqlite3.connect(path) as reader:
        logged = {row[0] for row in reader.execute("SELECT request_id FROM accepted_records")}
    assert set(acknowledged) <= logged  # nothing acknowledged that was not recorded


def _write_until_full(path, outcomes) -> None:
    import resource
    import signal

    from churnlab.domain.errors import StorageUnavailableError
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
            ingest(log, accept([customer] * 5, f"r{index}"))
        except StorageUnavailableError as error:
            refusal = str(error)
            break
        acknowledged += [f"r{index}:{n}" for n in range(5)]
    outcomes.put((acknowledged, refusal, log.check()))
