"""The prediction log in PostgreSQL: for a cluster, where the disk of any one node can be lost.

On one machine SQLite is the whole world (`prediction_log.py`). On a cluster, a record that
lives only on the volume of the node that served it is lost with that node, so ingest writes
here instead: a primary with a synchronous standby on another node (pg_auto_failover promotes
the standby when the primary's node fails; the connection string lists both hosts and
`target_session_attrs=read-write` finds the primary).

A record is acknowledged only once the standby has it. When a commit cannot reach the standby,
PostgreSQL keeps it waiting (`statement_timeout` does not cover that wait), so a timer cancels
any write that outlasts its budget; PostgreSQL then reports the commit as done locally, with a
WARNING that it might not be replicated. That warning counts as a failed write (503): the client
retries, and the primary key makes the retry record nothing twice. TCP keepalives and a user
timeout end a connection whose server vanished with its node.

One connection per process, reopened after a fork or a failure; concurrent requests of the
process share its transactions (group commit), as with SQLite.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.errors import Diagnostic

from churnlab.adapters.group_commit import GroupCommit
from churnlab.domain.errors import StorageUnavailableError
from churnlab.domain.ingest import LoggedRecord, LogRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_records (
    request_id  TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL,
    customer_id TEXT NOT NULL,
    record      JSONB NOT NULL
)
"""
INSERT = "INSERT INTO accepted_records VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
# Any constant: processes that start together take it so that one of them creates the table.
SCHEMA_LOCK = 0x636875726E
Result = TypeVar("Result")


class PostgresPredictionLog:
    """Durable, idempotent record of every accepted record, replicated before it is acknowledged.

    `write_timeout_seconds` bounds a write (its wait for the standby included), so a lost
    standby costs a client a 503 and a retry, never a hung request.
    """

    def __init__(
        self,
        conninfo: str,
        write_timeout_seconds: float = 2.0,
        connect_timeout_seconds: int = 2,
        name: str = "prediction log",
    ) -> None:
        self.name = name
        self._conninfo = conninfo
        self._write_timeout_seconds = write_timeout_seconds
        self._options = {
            "connect_timeout": connect_timeout_seconds,
            "keepalives_idle": 1,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": int(write_timeout_seconds * 1000) + 1000,
            "autocommit": True,
        }
        self._lock = threading.Lock()  # the connection: one write or probe at a time
        self._connection: psycopg.Connection[Any] | None = None
        self._connection_pid = 0
        self._not_replicated: list[str] = []
        self._commits: GroupCommit[list[LogRow], int] = GroupCommit(self._write_batch)

    def record(self, entries: Sequence[LoggedRecord]) -> int:
        """Insert the entries; returns how many were new. Returns once the standby has them."""
        return self._commits.submit([entry.as_row() for entry in entries])

    def check(self) -> str | None:
        """None when this process reaches a primary that takes writes; otherwise why not."""
        try:
            with self._lock:
                self._execute(lambda connection: connection.execute("SELECT 1"))
        except StorageUnavailableError as error:
            return error.reason
        return None

    def count(self) -> int:
        return self._read("SELECT count(*) FROM accepted_records")[0][0]

    def request_ids(self) -> list[str]:
        rows = self._read("SELECT request_id FROM accepted_records")
        return [request_id for (request_id,) in rows]

    def get(self, request_id: str) -> dict | None:
        rows = self._read("SELECT record FROM accepted_records WHERE request_id = %s", request_id)
        return rows[0][0] if rows else None

    def _write_batch(self, batches: Sequence[list[LogRow]]) -> list[int]:
        """One transaction for every caller's rows; how many rows were new, per caller."""

        def write(connection: psycopg.Connection[Any]) -> list[int]:
            new = []
            with connection.transaction(), connection.cursor() as cursor:
                for rows in batches:
                    cursor.executemany(INSERT, rows)
                    new.append(cursor.rowcount)
            return new

        with self._lock:
            return self._execute(write)

    def _execute(self, work: Callable[[psycopg.Connection[Any]], Result]) -> Result:
        """Run `work(connection)`; any failure, or a commit the standby did not confirm, is a
        StorageUnavailableError, and the connection is reopened next time."""
        try:
            connection = self._connect()
            self._not_replicated.clear()
            overdue = threading.Timer(self._write_timeout_seconds, connection.cancel_safe)
            overdue.start()
            try:
                result = work(connection)
            finally:
                overdue.cancel()
        except psycopg.Error as error:
            self._close()
            raise StorageUnavailableError(self.name, _reason(error)) from error
        if self._not_replicated:
            self._close()  # the standby may be gone: the next call finds the primary again
            raise StorageUnavailableError(self.name, self._not_replicated[0])
        return result

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is not None and self._connection_pid == os.getpid():
            return self._connection
        self._connection = None  # a parent's connection is never used after fork
        connection = psycopg.connect(self._conninfo, **self._options)
        connection.add_notice_handler(self._on_notice)
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            connection.execute(SCHEMA)
        self._connection, self._connection_pid = connection, os.getpid()
        return connection

    def _on_notice(self, notice: Diagnostic) -> None:
        if "synchronous replication" in (notice.message_primary or ""):
            self._not_replicated.append(
                f"write not confirmed by the standby: {notice.message_primary}"
            )

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._connection_pid == os.getpid():
            connection.close()

    def _read(self, query: str, *params: object) -> list[tuple]:
        """Reads for tests and the harness: a connection of their own."""
        try:
            with psycopg.connect(self._conninfo, **self._options) as connection:
                return connection.execute(query, params or None).fetchall()
        except psycopg.Error as error:
            raise StorageUnavailableError(self.name, _reason(error)) from error


def _reason(error: psycopg.Error) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
