"""The prediction log: SQLite in WAL mode, one row per accepted record, keyed by request id.

The primary key makes recording idempotent: a retried ingest call with the same request id
records nothing twice. Each process opens its own connection (SQLite connections are not shared
across fork), and WAL lets the readers of one process run beside the writer of another.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
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
        with self._connection() as connection:
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread; gunicorn's threaded workers each get their own."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._local.connection = connection
        return connection

    def record(self, rows: Sequence[tuple[str, str, CustomerRecord]]) -> int:
        """Insert (record id, received at, record) rows in one transaction.

        Returns how many were new: a retry of rows already logged adds none.
        """
        connection = self._connection()
        before = connection.total_changes
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT OR IGNORE INTO accepted_records VALUES (?, ?, ?, ?)",
                [
                    (record_id, received_at, record.customer_id, record.model_dump_json())
                    for record_id, received_at, record in rows
                ],
            )
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

    def ping(self) -> None:
        """Cheap readiness check: the database opens and answers a query."""
        self._connection().execute("SELECT 1").fetchone()
