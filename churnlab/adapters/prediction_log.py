"""The prediction log on one machine: SQLite, one row per answered record with what it was
answered (score, label, reasons, model version, correlation id), so the log can say why a
customer was flagged.

Recording is idempotent twice over: by prediction id (the gateway's retries of one ingest call
carry the same server-made ids) and by Idempotency-Key (a client's retries of one request: the
same key and body get the first answer back, another body a conflict). A request's rows and its
key are written in one transaction. Concurrent requests of one process share it (group commit).

Erasure deletes a customer's rows and leaves a tombstone, so that their records still waiting
in a gateway's spool are refused when replayed (only then: a live request is never checked
against a clock of another machine); retention deletes by age and by row count, in
small batches that leave the write lock to requests in between.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from churnlab.adapters.group_commit import GroupCommit, submit_within
from churnlab.adapters.log_rows import (
    PREDICTION_COLUMNS,
    REQUEST_COUNTS,
    STORED_COLUMNS,
    audit_view,
    prediction_rows,
    stored_recording,
    tombstone,
)
from churnlab.adapters.sqlite_file import SqliteFile, transaction
from churnlab.domain.errors import IdempotencyConflictError
from churnlab.domain.ingest import Outcome, Recording, now_iso, single_outcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    prediction_id     TEXT PRIMARY KEY,
    received_at       TEXT NOT NULL,
    request_id        TEXT NOT NULL,
    idempotency_key   TEXT,
    position          INTEGER NOT NULL,
    customer_id       TEXT NOT NULL,
    record            TEXT NOT NULL,
    churn_probability REAL NOT NULL,
    churn             INTEGER NOT NULL,
    risk              TEXT NOT NULL,
    reasons           TEXT NOT NULL,
    model_version     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions (received_at);
CREATE INDEX IF NOT EXISTS predictions_by_customer ON predictions (customer_id);
CREATE INDEX IF NOT EXISTS predictions_by_key ON predictions (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    records     INTEGER NOT NULL,
    erased      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (received_at);
CREATE TABLE IF NOT EXISTS erasures (
    customer_key TEXT PRIMARY KEY,
    erased_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO log_settings VALUES ('erasure_salt', lower(hex(randomblob(16))));
"""
INSERT_PREDICTION = (
    f"INSERT OR IGNORE INTO predictions ({', '.join(PREDICTION_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(PREDICTION_COLUMNS))})"
)
# A spool's replay is not recorded for a customer erased after the request was received: the
# 12 columns, then the tombstone and received_at.
INSERT_SPOOLED_PREDICTION = (
    f"INSERT OR IGNORE INTO predictions ({', '.join(PREDICTION_COLUMNS)})"
    f" SELECT {', '.join('?' * len(PREDICTION_COLUMNS))}"
    " WHERE NOT EXISTS (SELECT 1 FROM erasures WHERE customer_key = ? AND erased_at >= ?)"
)
SELECT_STORED = (
    f"SELECT {', '.join(STORED_COLUMNS)} FROM predictions"
    " WHERE idempotency_key = ? AND received_at = ?"
)
RETENTION_BATCH = 1000

Result = Outcome | IdempotencyConflictError


class PredictionLog:
    """Durable, idempotent record of every answered record, on this machine's disk."""

    copies = 1  # one disk

    def __init__(
        self,
        path: Path,
        synchronous: str = "FULL",
        lock_timeout_seconds: float = 2.0,
        name: str = "prediction log",
    ) -> None:
        self.name = name
        self.file = SqliteFile(
            path,
            SCHEMA,
            name=name,
            synchronous=synchronous,
            lock_timeout_seconds=lock_timeout_seconds,
        )
        self._salt: str | None = None
        self._commits: GroupCommit[tuple[Sequence[Recording], float], list[Result]] = GroupCommit(
            self._write_batch, write_seconds=lock_timeout_seconds + 5
        )

    def record(self, recording: Recording, deadline: float | None = None) -> Outcome:
        """Returns once the request is committed (or was, under its key); raises
        IdempotencyConflictError when its key named another request."""
        return single_outcome(self.record_all([recording], deadline))

    def record_all(self, recordings: Sequence[Recording], deadline: float | None = None) -> list:
        """One result per recording, in one transaction: an Outcome, or the conflict."""
        deadline = deadline or time.monotonic() + 10
        return submit_within(self._commits, (recordings, deadline), deadline, self.name)

    def check(self) -> str | None:
        return self.file.check()

    def get(self, prediction_id: str) -> dict[str, Any] | None:
        row = (
            self.file.reading()
            .execute(
                f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM predictions WHERE prediction_id = ?",
                (prediction_id,),
            )
            .fetchone()
        )
        return audit_view(row) if row else None

    def erase(self, stored_customer_id: str) -> int:
        """Deletes the customer's predictions, marks the keys that named them as erased (a
        retry under one gets a 409, not a new record), and leaves a tombstone; returns how many
        predictions were deleted."""
        with self.file.writing() as connection, transaction(connection):
            connection.execute(
                "UPDATE idempotency_keys SET erased = 1 WHERE key IN (SELECT idempotency_key"
                " FROM predictions WHERE customer_id = ? AND idempotency_key IS NOT NULL)",
                (stored_customer_id,),
            )
            erased = connection.execute(
                "DELETE FROM predictions WHERE customer_id = ?", (stored_customer_id,)
            ).rowcount
            connection.execute(
                "INSERT OR REPLACE INTO erasures VALUES (?, ?)",
                (tombstone(self._erasure_salt(connection), stored_customer_id), now_iso()),
            )
        return erased

    def enforce_retention(
        self, max_age_seconds: float, max_rows: int, now: datetime | None = None
    ) -> dict[str, int]:
        """Deletes predictions older than `max_age_seconds`, then the oldest beyond `max_rows`
        (0: no limit), with their keys and tombstones; how many rows went for each reason."""
        now = now or datetime.now(UTC)
        deleted = {"age": 0, "rows": 0}
        with self.file.exclusive("maintenance") as leading:
            if not leading:  # another process of this log is doing it
                return {}
            if max_age_seconds > 0:
                cutoff = (now - timedelta(seconds=max_age_seconds)).isoformat(
                    timespec="microseconds"
                )
                deleted["age"] = self._delete_before(cutoff, inclusive=False)
            if max_rows > 0:
                deleted["rows"] = self._delete_beyond(max_rows)
        return deleted

    def _delete_beyond(self, max_rows: int) -> int:
        newest_dropped = (
            self.file.reading()
            .execute(
                "SELECT received_at FROM predictions ORDER BY received_at DESC LIMIT 1 OFFSET ?",
                (max_rows,),
            )
            .fetchone()
        )
        return self._delete_before(newest_dropped[0], inclusive=True) if newest_dropped else 0

    def _delete_before(self, cutoff: str, *, inclusive: bool) -> int:
        """Batches of RETENTION_BATCH rows, each its own short transaction."""
        older = "<=" if inclusive else "<"
        deleted = 0
        while True:
            with self.file.writing() as connection, transaction(connection):
                batch = connection.execute(
                    "DELETE FROM predictions WHERE prediction_id IN (SELECT prediction_id"
                    f" FROM predictions WHERE received_at {older} ? LIMIT ?)",
                    (cutoff, RETENTION_BATCH),
                ).rowcount
                connection.execute(
                    f"DELETE FROM idempotency_keys WHERE received_at {older} ?", (cutoff,)
                )
                connection.execute(f"DELETE FROM erasures WHERE erased_at {older} ?", (cutoff,))
            deleted += batch
            if batch < RETENTION_BATCH:
                return deleted
            time.sleep(0.01)  # let requests take the write lock in between

    def request_counts(self) -> Counter[str]:
        """Predictions logged per correlation id: what tests and experiments check."""
        return Counter(dict(self.file.reading().execute(REQUEST_COUNTS).fetchall()))

    def count(self) -> int:
        return self.file.reading().execute("SELECT count(*) FROM predictions").fetchone()[0]

    def stats(self) -> dict[str, float]:
        """For the metrics: the log's size, and its volume's free and total bytes."""
        volume = os.statvfs(self.file.path.parent)
        return {
            "bytes": self.file.size_bytes(),
            "volume_free_bytes": volume.f_bavail * volume.f_frsize,
            "volume_size_bytes": volume.f_blocks * volume.f_frsize,
        }

    def _write_batch(
        self, batches: Sequence[tuple[Sequence[Recording], float]]
    ) -> list[list[Result]]:
        """One transaction for every caller's recordings, within the earliest deadline."""
        deadline = min(deadline for _, deadline in batches)
        with self.file.writing(deadline) as connection, transaction(connection):
            salt = self._erasure_salt(connection)
            return [
                [self._record_one(connection, recording, salt) for recording in recordings]
                for recordings, _ in batches
            ]

    def _record_one(
        self, connection: sqlite3.Connection, recording: Recording, salt: str
    ) -> Result:
        key = recording.idempotency
        if key is not None:
            claimed = connection.execute(
                "INSERT OR IGNORE INTO idempotency_keys"
                " (key, fingerprint, request_id, received_at, records) VALUES (?, ?, ?, ?, ?)",
                (
                    key.key,
                    key.fingerprint,
                    recording.request_id,
                    recording.received_at,
                    len(recording.predictions),
                ),
            ).rowcount
            if not claimed:
                earlier = self._earlier(connection, recording)
                if earlier is not None:
                    return earlier
        if not recording.spooled:
            connection.executemany(INSERT_PREDICTION, prediction_rows(recording))
            return Outcome(recording, replayed=False, copies=self.copies)
        before = connection.total_changes
        connection.executemany(
            INSERT_SPOOLED_PREDICTION,
            [
                (*row, tombstone(salt, row[5]), recording.received_at)
                for row in prediction_rows(recording)
            ],
        )
        if key is not None and connection.total_changes - before < len(recording.predictions):
            # Part of it was erased: its answer cannot be given again whole.
            connection.execute("UPDATE idempotency_keys SET erased = 1 WHERE key = ?", (key.key,))
        return Outcome(recording, replayed=False, copies=self.copies)

    def _earlier(self, connection: sqlite3.Connection, recording: Recording) -> Result | None:
        """The key's first request: its answer again, or a conflict; None when what it named
        is gone (erased, or past retention): then the key is this request's now."""
        key = recording.idempotency
        assert key is not None
        fingerprint, request_id, received_at, records, erased = connection.execute(
            "SELECT fingerprint, request_id, received_at, records, erased FROM idempotency_keys"
            " WHERE key = ?",
            (key.key,),
        ).fetchone()
        if erased:
            return IdempotencyConflictError(key.key, erased=True)
        if fingerprint != key.fingerprint:
            return IdempotencyConflictError(key.key)
        rows = connection.execute(SELECT_STORED, (key.key, received_at)).fetchall()
        stored = stored_recording(request_id, received_at, key, records, rows)
        if stored is not None:
            return Outcome(stored, replayed=True, copies=self.copies)
        connection.execute(
            "UPDATE idempotency_keys SET request_id = ?, received_at = ?, records = ?"
            " WHERE key = ?",
            (recording.request_id, recording.received_at, len(recording.predictions), key.key),
        )
        return None

    def _erasure_salt(self, connection: sqlite3.Connection) -> str:
        if self._salt is None:
            self._salt = connection.execute(
                "SELECT value FROM log_settings WHERE name = 'erasure_salt'"
            ).fetchone()[0]
        return self._salt
