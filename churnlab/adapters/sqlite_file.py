"""One SQLite file written by many threads and processes: what the prediction log and the
gateway's spool share.

Each thread opens its own connection (SQLite connections are not shared across fork), and WAL
lets readers run beside the one writer. Processes queue on an OS file lock beside the database
rather than on SQLite's busy handler, which polls with sleeps of 1 to 100 ms: under load from
several gunicorn workers that polling, not the writes, set the tail latency. The lock is tried
at once and then re-tried every 0.1 to 2 ms, until its deadline, when the write fails as
StorageUnavailableError (503) instead of waiting behind a writer that never finishes.

`synchronous` is FULL by default: a commit is on the disk, so a power cut loses nothing that
was acknowledged. NORMAL also survives a crash of the process, but a power cut may lose the
last commits before a checkpoint (SQLite's WAL documentation); `make bench` measures the
difference. `max_bytes` caps the file (SQLite's max_page_count): past it, writes fail as full.

A write that fails (disk full, read-only volume) raises StorageUnavailableError, so the caller
answers 503 and nothing is acknowledged that was not recorded. `check()` (readiness) reports
that failure for FAILURE_HOLD_SECONDS, then probes with a write of its own: a nearly full disk
can take a one-row probe while refusing real records, so a probe alone would flap.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from churnlab.domain.errors import StorageUnavailableError
from churnlab.domain.ingest import now_iso

HEARTBEAT = "CREATE TABLE IF NOT EXISTS heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT);"
FAILURE_HOLD_SECONDS = 5.0
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteFile:
    def __init__(
        self,
        path: Path,
        schema: str,
        *,
        name: str,
        synchronous: str = "FULL",
        lock_timeout_seconds: float = 2.0,
        max_bytes: int = 0,
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, not {synchronous!r}")
        self.path = Path(path)
        self.name = name
        self._schema = schema + HEARTBEAT
        self._synchronous = synchronous.upper()
        self._lock_timeout_seconds = lock_timeout_seconds
        self._max_bytes = max_bytes
        self._local = threading.local()
        self._last_failure: tuple[float, str] | None = None

    @contextmanager
    def writing(self, deadline: float | None = None) -> Iterator[sqlite3.Connection]:
        """This thread's connection under the write lock (until `deadline`, or the lock timeout
        from now); a failure rolls back and is reported as StorageUnavailableError, and the
        connection is reopened next time."""
        try:
            connection = self._connection()
            with self._write_locked(deadline):
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

    def reading(self) -> sqlite3.Connection:
        try:
            return self._connection()
        except (sqlite3.Error, OSError) as error:
            raise StorageUnavailableError(self.name, str(error)) from error

    def check(self) -> str | None:
        """None when records can be written; otherwise why not. For readiness probes."""
        failure = self._last_failure
        if failure is not None and time.monotonic() - failure[0] < FAILURE_HOLD_SECONDS:
            return failure[1]
        try:
            with self.writing() as connection:
                connection.execute("INSERT OR REPLACE INTO heartbeat VALUES (1, ?)", (now_iso(),))
        except StorageUnavailableError as error:
            return error.reason
        return None

    @contextmanager
    def exclusive(self, role: str) -> Iterator[bool]:
        """Whether this process got the `role` (e.g. the spool's replayer) for the block: one
        process of the file at a time, the others are told False at once."""
        lock = os.open(self.path.with_name(f"{self.path.name}.{role}-lock"), os.O_RDWR | os.O_CREAT)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(lock)  # releases the lock

    def size_bytes(self) -> int:
        """The database and its write-ahead log on disk."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(FileNotFoundError):
                total += os.stat(f"{self.path}{suffix}").st_size
        return total

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
            self.path, timeout=self._lock_timeout_seconds, isolation_level=None
        )
        try:
            with self._write_locked(None):  # several gunicorn workers may create it at once
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(self._schema)
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            if self._max_bytes:
                page_size = connection.execute("PRAGMA page_size").fetchone()[0]
                connection.execute(f"PRAGMA max_page_count={max(self._max_bytes // page_size, 1)}")
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
    def _write_locked(self, deadline: float | None) -> Iterator[None]:
        deadline = deadline or time.monotonic() + self._lock_timeout_seconds
        lock, pause = self._local.write_lock, 0.0001
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OSError("another writer held the write lock past the deadline") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (a failure rolls back in `SqliteFile.writing`)."""
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    connection.execute("COMMIT")
