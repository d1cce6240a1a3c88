"""The prediction log: SQLite in WAL mode, one row per accepted record, keyed by request id.

The primary key makes recording idempotent: a retried ingest call with the same request id
records nothing twice. Each thread opens its own connection (SQLite connections are not shared
across fork), and WAL lets readers run beside the one writer.

Writers queue on an OS file lock beside the database rather than on SQLite's busy handler, which
polls with sleeps of 1 to 100 ms: under load from several gunicorn workers that polling, not the
writes, set the tail latency. `flock` wakes the next writer as soon as the lock is released.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from churnlab.domain.schema import CustomerRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_records (
    request_id  TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    record      TEXT NOT NULL
) WITHOUT ROWID;
"""
INSERT = "INSERT OR IGNORE INTO accepted_records VALUES (?, ?, ?, ?)"


class PredictionLog:
    """Durable, idempotent record of every accepted request.

    `synchronous` trades durability for speed: NORMAL (default) survives a process crash but may
    lose the last commits on power loss; FULL fsyncs every commit.
    """

    def __init__(self, path: Path, synchronous: str = "NORMAL", busy_timeout_ms: int = 5_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        connection = self._connection()
        # Several gunicorn workers open a new log at once: create it under the write lock.
        with self._write_locked(), connection:
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread; gunicorn's threaded workers each get their own."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Each thread's own open file description, so flock excludes threads as well.
            lock_path = self.path.with_name(self.path.name + ".write-lock")
            self._local.write_lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            # The busy timeout is set at connect time: switching a new file to WAL needs an
            # exclusive lock, which another process may hold for a moment.
            connection = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=True,
            )
            with self._write_locked():
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            self._local.connection = connection
        return connection

    @contextmanager
    def _write_locked(self) -> Iterator[None]:
        fcntl.flock(self._local.write_lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._local.write_lock, fcntl.LOCK_UN)

    def record(self, rows: Sequence[tuple[str, str, CustomerRecord]]) -> int:
        """Insert (record id, received at, record) rows in one transaction.

        Returns how many were new: a retry of rows already logged adds none.
        """
        values = [
            (record_id, received_at, record.customer_id, record.model_dump_json())
            for record_id, received_at, record in rows
        ]
        connection = self._connection()
        with self._write_locked():
            before = connection.total_changes
            if len(values) == 1:  # autocommit: one statement is its own transaction
                connection.execute(INSERT, values[0])
            else:
                with connection:
                    connection.execute("BEGIN IMMEDIATE")
                    connection.executemany(INSERT, values)
            return connection.total_changes - before

    def count(self) -> int:
        return self._connection().execute("SELECT count(*) FROM accepted_records").fetchone()[0]

    def request_ids(self) -> list[str]:
        rows = self._connection().execute("SELECT request_id FROM accepted_records")
        return [request_id for (request_id,) in rows]

    def get(self, request_id: str) -> dict | None:
        row = (
            self._connection()
            .execute("SELECT record FROM accepted_records WHERE request_id = ?", (request_id,))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def oldest(self, limit: int) -> list[tuple[str, str, CustomerRecord]]:
        """The first rows in arrival order: what a spool replays first."""
        rows = self._connection().execute(
            "SELECT request_id, received_at, record FROM accepted_records"
            " ORDER BY received_at, request_id LIMIT ?",
            (limit,),
        )
        return [
            (request_id, received_at, CustomerRecord.model_validate_json(record))
            for request_id, received_at, record in rows
        ]

    def remove(self, request_ids: Sequence[str]) -> None:
        with self._connection() as connection:
            connection.executemany(
                "DELETE FROM accepted_records WHERE request_id = ?", [(i,) for i in request_ids]
            )

    def ping(self) -> None:
        """Cheap readiness check: the database opens and answers a query."""
        self._connection().execute("SELECT 1").fetchone()
