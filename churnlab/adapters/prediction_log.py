"""The prediction log: SQLite in WAL mode, one row per accepted record, keyed by record id.

The primary key makes recording idempotent: a retried ingest call with the same record id
records nothing twice. Each thread opens its own connection (SQLite connections are not shared
across fork), and WAL lets readers run beside the one writer.

Concurrent requests of one process share a transaction (group commit). Processes queue on an OS
file lock beside the database rather than on SQLite's busy handler, which polls with sleeps of
1 to 100 ms: under load from several gunicorn workers that polling, not the writes, set the tail
latency. `flock` wakes the next writer as soon as the lock is released.

A write that fails (disk full, read-only volume) raises StorageUnavailableError, so the caller
answers 503 and nothing is acknowledged that was not recorded. `check()` (readiness) reports
that failure for FAILURE_HOLD_SECONDS, then probes with a write of its own: a nearly full disk
can take a one-row probe while refusing real records, so a probe alone would flap.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from churnlab.adapters.group_commit import GroupCommit
from churnlab.domain.errors import StorageUnavailableError
from churnlab.domain.ingest import LoggedRecord, LogRow
from churnlab.domain.schema import CustomerRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_records (
    request_id  TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    record      TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);
"""
INSERT = "INSERT OR IGNORE INTO accepted_records VALUES (?, ?, ?, ?)"
FAILURE_HOLD_SECONDS = 5.0


class PredictionLog:
    """Durable, idempotent record of every accepted record.

    `synchronous` trades durability for speed: NORMAL (default) survives a process crash but may
    lose the last commits on power loss; FULL fsyncs every commit.
    """

    def __init__(
        self,
        path: Path,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5_000,
        name: str = "prediction log",
    ) -> None:
        self.path = Path(path)
        self.name = name
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._commits: GroupCommit[list[LogRow], int] = GroupCommit(self._write_batch)
        self._last_failure: tuple[float, str] | None = None

    def record(self, entries: Sequence[LoggedRecord]) -> int:
        """Insert the entries; returns how many were new (a retry of logged ones adds none).

        Returns once committed, in a transaction it may share with concurrent callers.
        """
        return self._commits.submit([entry.as_row() for entry in entries])

    def check(self) -> str | None:
        """None when records can be written; otherwise why not. For readiness probes."""
        failure = self._last_failure
        if failure is not None and time.monotonic() - failure[0] < FAILURE_HOLD_SECONDS:
            return failure[1]
        try:
            with self._writing() as connection:
                connection.execute(
                    "INSERT OR REPLACE INTO heartbeat VALUES (1, ?)",
                    (datetime.now(UTC).isoformat(),),
                )
        except StorageUnavailableError as error:
            return error.reason
        return None

    def count(self) -> int:
        return self._reading().execute("SELECT count(*) FROM accepted_records").fetchone()[0]

    def request_ids(self) -> list[str]:
        rows = self._reading().execute("SELECT request_id FROM accepted_records")
        return [request_id for (request_id,) in rows]

    def get(self, request_id: str) -> dict | None:
        row = (
            self._reading()
            .execute("SELECT record FROM accepted_records WHERE request_id = ?", (request_id,))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def oldest(self, limit: int) -> list[LoggedRecord]:
        """The first entries in arrival order: what a spool replays first."""
        rows = self._reading().execute(
            "SELECT request_id, received_at, record FROM accepted_records"
            " ORDER BY received_at, request_id LIMIT ?",
            (limit,),
        )
        return [
            LoggedRecord(request_id, received_at, CustomerRecord.model_validate_json(record))
            for request_id, received_at, record in rows
        ]

    def remove(self, record_ids: Sequence[str]) -> None:
        with self._writing() as connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "DELETE FROM accepted_records WHERE request_id = ?", [(i,) for i in record_ids]
            )
            connection.execute("COMMIT")

    def _write_batch(self, batches: Sequence[list[LogRow]]) -> list[int]:
        """One transaction for every caller's rows; how many rows were new, per caller."""
        with self._writing() as connection:
            if len(batches) == 1 and len(batches[0]) == 1:  # autocommit: its own transaction
                before = connection.total_changes
                connection.execute(INSERT, batches[0][0])
                return [connection.total_changes - before]
            new = []
            connection.execute("BEGIN IMMEDIATE")
            for rows in batches:
                before = connection.total_changes
                connection.executemany(INSERT, rows)
                new.append(connection.total_changes - before)
            connection.execute("COMMIT")
            return new

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection under the write lock; a failure rolls back and is reported
        as StorageUnavailableError, and the connection is reopened next time."""
        try:
            connection = self._connection()
            with self._write_locked():
                try:
                    yield connection
                except BaseException:
                    if connection.in_transaction:
                        with suppress(sqlite3.Error):
                            connection.execute("ROLLBACK")
                    raise
        except (sqlite3.Error, OSError) as error:
            self._close()
            self._last_failure = (time.monotonic(), str(error))
            raise StorageUnavailableError(self.name, str(error)) from error
        self._last_failure = None

    def _reading(self) -> sqlite3.Connection:
        try:
            return self._connection()
        except (sqlite3.Error, OSError) as error:
            raise StorageUnavailableError(self.name, str(error)) from error

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread, opened (and the schema created) on first use, so that a
        process whose volume is full or read-only still starts and says why it is not ready."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Each thread's own open file description, so flock excludes threads as well.
        lock_path = self.path.with_name(self.path.name + ".write-lock")
        self._local.write_lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        # The busy timeout is set at connect time: switching a new file to WAL needs an
        # exclusive lock, which another process may hold for a moment.
        connection = sqlite3.connect(
            self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None
        )
        try:
            with self._write_locked():  # several gunicorn workers may create the file at once
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
        except BaseException:
            connection.close()
            self._close()
            raise
        self._local.connection = connection
        return connection

    def _close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            with suppress(sqlite3.Error):
                connection.close()
        lock = getattr(self._local, "write_lock", None)
        if lock is not None:
            with suppress(OSError):
                os.close(lock)
        self._local.connection = self._local.write_lock = None

    @contextmanager
    def _write_locked(self) -> Iterator[None]:
        fcntl.flock(self._local.write_lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._local.write_lock, fcntl.LOCK_UN)
