"""The gateway's spool: answered requests that ingest could not take, on the gateway's own disk
until they are replayed to ingest (degraded mode).

A queue of whole recordings, oldest first. A request with an Idempotency-Key is spooled once:
its retry to the same replica gets the spooled answer again, or a conflict (while ingest is
down, keys are checked only here; the prediction log checks them again at replay). A recording
that ingest refuses (4xx, or its key named another request in the log) moves to the dead
letters, where it is counted and kept for a person to read, and never blocks the queue.

The file is capped (`max_bytes`): a full spool fails the write, and the prediction with it (a
clear 503), rather than filling the disk the gateway runs on. Until replayed, spooled records
keep the customer id as sent: the ingest stage minimises it when it logs them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from churnlab.adapters.group_commit import GroupCommit, submit_within
from churnlab.adapters.sqlite_file import SqliteFile, transaction
from churnlab.domain.errors import IdempotencyConflictError
from churnlab.domain.ingest import Outcome, Recording, now_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    spooled_at      TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    fingerprint     TEXT,
    records         INTEGER NOT NULL,
    recording       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq        INTEGER PRIMARY KEY,
    spooled_at TEXT NOT NULL,
    failed_at  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    recording  TEXT NOT NULL
);
"""


class Spool:
    def __init__(
        self,
        path: Path,
        synchronous: str = "FULL",
        max_bytes: int = 256 << 20,
        lock_timeout_seconds: float = 2.0,
        name: str = "spool",
    ) -> None:
        self.name = name
        self.file = SqliteFile(
            path,
            SCHEMA,
            name=name,
            synchronous=synchronous,
            lock_timeout_seconds=lock_timeout_seconds,
            max_bytes=max_bytes,
        )
        self._commits: GroupCommit[Recording, Outcome | IdempotencyConflictError] = GroupCommit(
            self._write_batch, write_seconds=lock_timeout_seconds + 5
        )

    @property
    def path(self) -> Path:
        return self.file.path

    def put(self, recording: Recording, deadline: float | None = None) -> Outcome:
        """Committed to the spool (or, under a key spooled before, that one's answer)."""
        deadline = deadline or time.monotonic() + 10
        result = submit_within(self._commits, recording, deadline, self.name)
        if isinstance(result, IdempotencyConflictError):
            raise result
        return result

    def oldest(self, limit: int) -> list[tuple[int, Recording]]:
        rows = self.file.reading().execute(
            "SELECT seq, recording FROM spooled ORDER BY seq LIMIT ?", (limit,)
        )
        return [
            (seq, dataclasses.replace(Recording.from_json(orjson.loads(body)), spooled=True))
            for seq, body in rows
        ]

    def by_key(self, key: str) -> tuple[int, Recording] | None:
        """The spooled request under this Idempotency-Key, if any."""
        row = (
            self.file.reading()
            .execute("SELECT seq, recording FROM spooled WHERE idempotency_key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        return row[0], dataclasses.replace(Recording.from_json(orjson.loads(row[1])), spooled=True)

    def remove(self, seqs: Sequence[int]) -> None:
        with self.file.writing() as connection, transaction(connection):
            connection.executemany("DELETE FROM spooled WHERE seq = ?", [(seq,) for seq in seqs])

    def dead_letter(self, seq: int, reason: str) -> None:
        with self.file.writing() as connection, transaction(connection):
            connection.execute(
                "INSERT INTO dead_letters SELECT seq, spooled_at, ?, ?, recording"
                " FROM spooled WHERE seq = ?",
                (now_iso(), reason[:2000], seq),
            )
            connection.execute("DELETE FROM spooled WHERE seq = ?", (seq,))

    def erase(self, customer_id: str) -> int:
        """The customer's predictions, out of every spooled recording and dead letter; how
        many. A recording left with none is removed."""
        erased = 0
        with self.file.writing() as connection, transaction(connection):
            for table in ("spooled", "dead_letters"):
                rows = connection.execute(
                    f"SELECT seq, recording FROM {table} WHERE recording LIKE ?",
                    (f"%{customer_id}%",),
                ).fetchall()
                for seq, body in rows:
                    recording = Recording.from_json(orjson.loads(body))
                    kept = [p for p in recording.predictions if p.record.customer_id != customer_id]
                    erased += len(recording.predictions) - len(kept)
                    if not kept:
                        connection.execute(f"DELETE FROM {table} WHERE seq = ?", (seq,))
                    elif len(kept) < len(recording.predictions):
                        # Its answer can no longer be given whole: no key to replay it by.
                        trimmed = dataclasses.replace(
                            recording, predictions=tuple(kept), idempotency=None
                        )
                        body = orjson.dumps(trimmed.to_json()).decode()
                        connection.execute(
                            f"UPDATE {table} SET recording = ? WHERE seq = ?", (body, seq)
                        )
                        if table == "spooled":
                            connection.execute(
                                "UPDATE spooled SET records = ?, idempotency_key = NULL,"
                                " fingerprint = NULL WHERE seq = ?",
                                (len(kept), seq),
                            )
        return erased

    def depth(self) -> tuple[int, float]:
        """Records waiting, and the age in seconds of the oldest (0 when empty)."""
        records, oldest = (
            self.file.reading()
            .execute("SELECT coalesce(sum(records), 0), min(spooled_at) FROM spooled")
            .fetchone()
        )
        age = (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0
        return records, max(age, 0.0)

    def dead_letters(self) -> list[dict]:
        rows = self.file.reading().execute(
            "SELECT seq, spooled_at, failed_at, reason, recording FROM dead_letters ORDER BY seq"
        )
        return [
            {"seq": seq, "spooled_at": spooled, "failed_at": failed, "reason": reason}
            | {"recording": orjson.loads(recording)}
            for seq, spooled, failed, reason, recording in rows
        ]

    def dead_letter_count(self) -> int:
        return self.file.reading().execute("SELECT count(*) FROM dead_letters").fetchone()[0]

    def check(self) -> str | None:
        return self.file.check()

    def _write_batch(self, recordings: Sequence[Recording]) -> list:
        with self.file.writing() as connection, transaction(connection):
            return [self._put_one(connection, recording) for recording in recordings]

    def _put_one(self, connection, recording: Recording) -> Outcome | IdempotencyConflictError:
        key = recording.idempotency
        spooled = connection.execute(
            "INSERT OR IGNORE INTO spooled"
            " (spooled_at, idempotency_key, fingerprint, records, recording)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                now_iso(),
                key.key if key else None,
                key.fingerprint if key else None,
                len(recording.predictions),
                orjson.dumps(recording.to_json()).decode(),
            ),
        ).rowcount
        if spooled or key is None:
            return Outcome(recording, replayed=False, copies=1, logged=False)
        fingerprint, body = connection.execute(
            "SELECT fingerprint, recording FROM spooled WHERE idempotency_key = ?", (key.key,)
        ).fetchone()
        if fingerprint != key.fingerprint:
            return IdempotencyConflictError(key.key)
        earlier = Recording.from_json(orjson.loads(body))
        return Outcome(earlier, replayed=True, copies=1, logged=False)
