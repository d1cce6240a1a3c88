"""The prediction log in PostgreSQL: for a cluster, where the disk of any one node can be lost.

On one machine SQLite is the whole world (`prediction_log.py`). On a cluster, a record that
lives only on the volume of the node that served it is lost with that node, so ingest writes
here instead: a primary with a synchronous standby on another node (pg_auto_failover promotes
the standby when the primary's node fails; the connection string lists both hosts and
`target_session_attrs=read-write` finds the primary). Rows, keys and tombstones are as in the
SQLite log (`log_rows.py`); predictions are partitioned by day, so retention drops whole days.

A request is acknowledged only once a standby has confirmed its commit:
- every write transaction writes to the WAL before it commits (a transactional logical
  message, `pg_logical_emit_message`), so even one that inserts nothing (a retry whose rows
  are already there) waits for the standby at its commit, and with it for everything committed
  before. A transaction id alone is not enough: PostgreSQL waits for a standby only when the
  transaction wrote WAL before its commit record (checked on PostgreSQL 15 in the tests);
- before writing, it reads `synchronous_standby_names`: empty (pg_auto_failover's wait_primary,
  a primary whose standby is gone) means a commit would not wait, so nothing is written and the
  answer is a 503, unless `single_copy` accepts it, and the answer then says one copy;
- a commit that cannot reach the standby waits (`statement_timeout` does not cover that wait),
  so a timer cancels any write that outlasts its budget. PostgreSQL then completes the commit
  locally and says so with a WARNING: any warning during the commit, the timer firing, or the
  setting emptied by the time it returns (waiters are released when it is) means the rows are
  on the primary only. That is reported as such (NotReplicatedError: kept, one copy), and a
  retry under the same Idempotency-Key finishes it. No message is recognised by its text.

One connection per process, reopened after a fork or a failure; concurrent requests of the
process share its transactions (group commit), as with SQLite.

The schema is the database owner's to install (`postgres_schema.sql`), never this code's: it
connects as a member of `churnlab_writer`, which may read the log and insert into it, and
partitions, erases and applies retention only through the schema's functions.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.errors import Diagnostic

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
from churnlab.domain.errors import (
    IdempotencyConflictError,
    NotReplicatedError,
    StorageUnavailableError,
)
from churnlab.domain.ingest import Outcome, Recording, single_outcome
from churnlab.workflow import DEGRADED

SCHEMA_FILE = Path(__file__).with_name("postgres_schema.sql")
CASTS = {"received_at": "timestamptz", "record": "jsonb", "reasons": "jsonb"}
INSERT_PREDICTION = (
    f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) SELECT "
    + ", ".join(f"%s::{CASTS[c]}" if c in CASTS else "%s" for c in PREDICTION_COLUMNS)
    + " ON CONFLICT DO NOTHING"
)
# A spool's replay: not if the customer was erased after the request was received.
INSERT_SPOOLED_PREDICTION = INSERT_PREDICTION.replace(
    " ON CONFLICT",
    " WHERE NOT EXISTS (SELECT 1 FROM erasures WHERE customer_key = %s"
    " AND erased_at >= %s::timestamptz) ON CONFLICT",
)
SELECT_STORED = (
    f"SELECT {', '.join(STORED_COLUMNS)} FROM predictions"
    " WHERE idempotency_key = %s AND received_at = %s"
)
STANDBY = "current_setting('synchronous_standby_names')"
# Makes the transaction's commit wait for the standby even when it inserts nothing.
WAL_MARK = "pg_logical_emit_message(true, 'churnlab', '')"
# Partitions and retention commit without waiting for a standby: they replicate all the
# same, and are made again (or deleted again) should a failover lose the last of them.
# Erasure waits, as records do: an erasure lost in a failover would bring the data back.
NO_STANDBY_WAIT = "SET LOCAL synchronous_commit = local"
# Any constant: one process at a time runs retention.
MAINTENANCE_LOCK = 0x636875726F
PARTITION_DAYS_AHEAD = 3
RETENTION_BATCH = 1000
Result = TypeVar("Result")
Recorded = Outcome | IdempotencyConflictError


class PostgresPredictionLog:
    """Durable, idempotent record of every answered record, replicated before it is answered.

    `write_timeout_seconds` bounds a write (its wait for the standby included), so a lost
    standby costs a client a 503 and a retry, never a hung request. `single_copy` accepts
    writes while no standby is required (wait_primary); their answers say one copy.
    """

    def __init__(
        self,
        conninfo: str,
        write_timeout_seconds: float = 2.0,
        connect_timeout_seconds: int = 2,
        single_copy: bool = False,
        name: str = "prediction log",
    ) -> None:
        self.name = name
        self._conninfo = conninfo
        self._write_timeout_seconds = write_timeout_seconds
        self._single_copy = single_copy
        self._options = {
            "connect_timeout": connect_timeout_seconds,
            "keepalives_idle": 1,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": int(write_timeout_seconds * 1000) + 1000,
            "autocommit": True,
            # Text as UTF-8 whatever the database's encoding: pg_autoctl creates it SQL_ASCII
            # in a container without a locale, and psycopg then hands text back as bytes.
            "client_encoding": "utf8",
            # Commits wait for the standby to have the WAL on disk, whatever the server's
            # default says.
            "options": "-c synchronous_commit=on",
        }
        self._lock = threading.Lock()  # the connection: one write or probe at a time
        self._connection: psycopg.Connection[Any] | None = None
        self._connection_pid = 0
        self._warnings: list[str] = []
        self._committing = False  # warnings count while a commit is under way
        self._salt: str | None = None
        self._last_check: str | None = "not checked yet"
        self._partitions_for: date | None = None
        self._commits: GroupCommit[tuple[Sequence[Recording], float], list[Recorded]] = GroupCommit(
            self._write_batch, write_seconds=write_timeout_seconds + 5
        )

    def record(self, recording: Recording, deadline: float | None = None) -> Outcome:
        """Returns once a standby has the request (or had it, under its key); raises
        IdempotencyConflictError when its key named another request."""
        return single_outcome(self.record_all([recording], deadline))

    def record_all(self, recordings: Sequence[Recording], deadline: float | None = None) -> list:
        deadline = deadline or time.monotonic() + self._write_timeout_seconds + 1
        return submit_within(self._commits, (recordings, deadline), deadline, self.name)

    def check(self) -> str | None:
        """None when this process reaches a primary that takes writes; otherwise why not. A
        primary without a synchronous standby still serves (its writes answer 503). Never
        waits behind a write: while one holds the connection, the last answer stands."""
        if not self._lock.acquire(timeout=0.2):
            return self._last_check
        try:
            standby = self._execute(
                lambda connection: connection.execute(f"SELECT {STANDBY}").fetchone()[0], 2.0
            )
        except StorageUnavailableError as error:
            self._last_check = error.reason
        else:
            self._last_check = (
                None
                if standby or self._single_copy
                else f"{DEGRADED}: no synchronous standby; predictions answer 503 until one is back"
            )
        finally:
            self._lock.release()
        return self._last_check

    def get(self, prediction_id: str) -> dict[str, Any] | None:
        rows = self._read(
            f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM predictions WHERE prediction_id = %s",
            prediction_id,
        )
        return audit_view(rows[0]) if rows else None

    def erase(self, stored_customer_id: str) -> int:
        """Deletes the customer's predictions, marks the keys that named them as erased, and
        leaves a tombstone; returns how many predictions were deleted. Held to the standard of
        a write (an erasure a failover forgot would bring the data back), and it waits for the
        customer's writes under way (their advisory lock), so none of them survives it."""

        def erase(cursor: psycopg.Cursor[Any]) -> int:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", (_customer_lock(stored_customer_id),)
            )
            cursor.execute("SELECT churnlab_erase(%s)", (stored_customer_id,))
            return cursor.fetchone()[0]

        budget = self._write_timeout_seconds + 10
        with self._locked(budget):
            erased, _ = self._execute(
                lambda connection: self._replicated(connection, erase), budget
            )
        return erased

    def enforce_retention(
        self, max_age_seconds: float, max_rows: int, now: datetime | None = None
    ) -> dict[str, int]:
        """Creates the coming days' partitions, drops the days older than `max_age_seconds`,
        deletes what is left older than that, then the oldest beyond `max_rows` (0: no limit);
        how many rows went for each reason. One process at a time (an advisory lock), on a
        connection of its own, so requests' writes go on meanwhile."""
        now = now or datetime.now(UTC)
        deleted = {"age": 0, "rows": 0}
        try:
            with psycopg.connect(self._conninfo, **self._options) as connection:
                leading = connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (MAINTENANCE_LOCK,)
                ).fetchone()[0]
                if not leading:
                    return {}
                # Dropping a day locks the table: never wait behind a stuck write for long.
                connection.execute("SET lock_timeout = '5s'")
                self._ensure_partitions(connection, now)
                if max_age_seconds > 0:
                    cutoff = now - timedelta(seconds=max_age_seconds)
                    with connection.transaction():
                        connection.execute(NO_STANDBY_WAIT)
                        deleted["age"] = connection.execute(
                            "SELECT churnlab_drop_days(%s)", (cutoff,)
                        ).fetchone()[0]
                    deleted["age"] += _delete_before(connection, cutoff, inclusive=False)
                if max_rows > 0:
                    newest_dropped = connection.execute(
                        "SELECT received_at FROM predictions ORDER BY received_at DESC"
                        " LIMIT 1 OFFSET %s",
                        (max_rows,),
                    ).fetchone()
                    if newest_dropped:
                        deleted["rows"] = _delete_before(
                            connection, newest_dropped[0], inclusive=True
                        )
        except psycopg.Error as error:
            raise StorageUnavailableError(self.name, _reason(error)) from error
        return deleted

    def request_counts(self) -> Counter[str]:
        """Predictions logged per correlation id: what tests and experiments check."""
        return Counter(dict(self._read(REQUEST_COUNTS)))

    def count(self) -> int:
        return self._read("SELECT count(*) FROM predictions")[0][0]

    def stats(self) -> dict[str, float]:
        """For the metrics: the database's size, and its synchronous standbys and their lag."""
        [(size, standbys, lag)] = self._read(
            "SELECT pg_database_size(current_database()), sync_standbys, lag_seconds"
            " FROM churnlab_replication()"
        )
        return {"bytes": size, "sync_standbys": standbys, "replication_lag_seconds": float(lag)}

    def _write_batch(
        self, batches: Sequence[tuple[Sequence[Recording], float]]
    ) -> list[list[Recorded]]:
        """One transaction for every caller's recordings, within the earliest deadline."""
        deadline = min(deadline for _, deadline in batches)
        budget = max(min(self._write_timeout_seconds, deadline - time.monotonic()), 0.05)
        recordings = [recording for batch, _ in batches for recording in batch]

        def write(cursor: psycopg.Cursor[Any]) -> list[Recorded]:
            # Shared locks on the customers: an erasure of one of them waits for this commit.
            locks = sorted(
                {_customer_lock(p.record.customer_id) for r in recordings for p in r.predictions}
            )
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(k) FROM unnest(%s::bigint[]) k",
                (locks,),
            )
            salt = self._erasure_salt(cursor.connection)
            claimed: dict[str, Recording] = {}
            return [self._record_one(cursor, recording, salt, claimed) for recording in recordings]

        with self._locked(budget):
            self._ensure_partitions_today(budget)
            results, copies = self._execute(
                lambda connection: self._replicated(connection, write), budget
            )
        flat = iter(_with_copies(result, copies) for result in results)
        return [[next(flat) for _ in batch] for batch, _ in batches]

    def _replicated(
        self, connection: psycopg.Connection[Any], work: Callable[[psycopg.Cursor[Any]], Result]
    ) -> tuple[Result, int]:
        """`work(cursor)` in one transaction held to the log's standard; (its result, the
        copies confirmed). WAL is written first, so that the commit waits for the standby even
        when the work writes nothing; a standby must be required before (or single copies
        accepted); any WARNING while committing means the wait was cancelled; and the standby
        must still be required after the commit, asked in a query of its own: a backend reads
        a reloaded configuration only before a new query, and when pg_auto_failover drops the
        requirement, the commits waiting on it return without a warning."""
        with connection.cursor() as cursor:
            cursor.execute(f"BEGIN; SELECT {WAL_MARK}, {STANDBY}")
            cursor.nextset()
            standby_before = bool(cursor.fetchone()[1])
            if not standby_before and not self._single_copy:
                cursor.execute("ROLLBACK")
                raise StorageUnavailableError(
                    self.name, "no synchronous standby: the primary would keep the only copy"
                )
            result = work(cursor)
            self._warnings.clear()
            self._committing = True
            try:
                cursor.execute("COMMIT")
            except psycopg.Error as error:
                raise StorageUnavailableError(
                    self.name, f"the commit did not return: {_reason(error)}", kept="unknown"
                ) from error
            finally:
                self._committing = False
            try:
                standby_after = bool(cursor.execute(f"SELECT {STANDBY}").fetchone()[0])
            except psycopg.Error as error:  # committed here; whether the standby has it, unknown
                raise NotReplicatedError(self.name, _reason(error)) from error
        confirmed = standby_before and standby_after and not self._warnings
        if not confirmed and not self._single_copy:
            raise NotReplicatedError(
                self.name,
                self._warnings[0] if self._warnings else "the standby stopped being required",
            )
        return result, 2 if confirmed else 1

    def _record_one(
        self, cursor: psycopg.Cursor[Any], recording: Recording, salt: str, claimed: dict
    ) -> Recorded:
        key = recording.idempotency
        if key is not None:
            if key.key in claimed:  # the same key twice in this transaction
                first = claimed[key.key]
                assert first.idempotency is not None
                if first.idempotency.fingerprint != key.fingerprint:
                    return IdempotencyConflictError(key.key)
                return Outcome(first, replayed=True, copies=2)
            cursor.execute(
                "INSERT INTO idempotency_keys (key, fingerprint, request_id, received_at, records)"
                " VALUES (%s, %s, %s, %s::timestamptz, %s)"
                " ON CONFLICT DO NOTHING",
                (
                    key.key,
                    key.fingerprint,
                    recording.request_id,
                    recording.received_at,
                    len(recording.predictions),
                ),
            )
            if not cursor.rowcount:
                earlier = self._earlier(cursor, recording)
                if earlier is not None:
                    return earlier
            claimed[key.key] = recording
        if not recording.spooled:
            cursor.executemany(INSERT_PREDICTION, prediction_rows(recording))
            return Outcome(recording, replayed=False, copies=2)
        inserted = 0
        for row in prediction_rows(recording):  # one by one: how many were refused counts
            cursor.execute(
                INSERT_SPOOLED_PREDICTION, (*row, tombstone(salt, row[5]), recording.received_at)
            )
            inserted += cursor.rowcount
        if key is not None and inserted < len(recording.predictions):
            # Part of it was erased: its answer cannot be given again whole.
            cursor.execute("UPDATE idempotency_keys SET erased = true WHERE key = %s", (key.key,))
        return Outcome(recording, replayed=False, copies=2)

    def _earlier(self, cursor: psycopg.Cursor[Any], recording: Recording) -> Recorded | None:
        """The key's first request: its answer again, or a conflict; None when what it named
        is gone (erased, or past retention): then the key is this request's now."""
        key = recording.idempotency
        assert key is not None
        cursor.execute(
            "SELECT fingerprint, request_id, received_at, records, erased FROM idempotency_keys"
            " WHERE key = %s",
            (key.key,),
        )
        fingerprint, request_id, received_at, records, erased = cursor.fetchone()
        if erased:
            return IdempotencyConflictError(key.key, erased=True)
        if fingerprint != key.fingerprint:
            return IdempotencyConflictError(key.key)
        cursor.execute(SELECT_STORED, (key.key, received_at))
        stored = stored_recording(
            request_id, received_at.isoformat(), key, records, cursor.fetchall()
        )
        if stored is not None:
            return Outcome(stored, replayed=True, copies=2)
        cursor.execute(
            "UPDATE idempotency_keys SET request_id = %s, received_at = %s::timestamptz,"
            " records = %s WHERE key = %s",
            (recording.request_id, recording.received_at, len(recording.predictions), key.key),
        )
        return None

    def _ensure_partitions(self, connection: psycopg.Connection[Any], now: datetime) -> None:
        """Today's partition, yesterday's and the next few days' (a new day never lands in the
        default partition, which would then block creating it)."""
        with connection.transaction():
            connection.execute(NO_STANDBY_WAIT)
            connection.execute(
                "SELECT churnlab_make_partitions(%s, %s)",
                (
                    (now - timedelta(days=1)).date(),
                    (now + timedelta(days=PARTITION_DAYS_AHEAD)).date(),
                ),
            )
        self._partitions_for = now.date()

    def _ensure_partitions_today(self, budget: float) -> None:
        """Once a day on the write path too, not only by the retention job (which may be off)."""
        if self._partitions_for != datetime.now(UTC).date():
            self._execute(
                lambda connection: self._ensure_partitions(connection, datetime.now(UTC)), budget
            )

    @contextmanager
    def _locked(self, seconds: float) -> Iterator[None]:
        """The connection, for one piece of work at a time; past `seconds`, a 503."""
        if not self._lock.acquire(timeout=seconds):
            raise StorageUnavailableError(self.name, "the connection stayed busy past the deadline")
        try:
            yield
        finally:
            self._lock.release()

    def _execute(self, work: Callable[[psycopg.Connection[Any]], Result], budget: float) -> Result:
        """Run `work(connection)` within `budget` seconds (the watchdog cancels it then); any
        failure closes the connection (it is reopened next time, on the primary wherever it is
        now, and never reused in a transaction left open, or with a cancel in flight) and is a
        StorageUnavailableError unless it is one already."""
        try:
            connection = self._connect()
            with _Watchdog(connection, budget) as watchdog:
                result = work(connection)
            if watchdog.cancelled:
                self._close()
            return result
        except StorageUnavailableError:
            self._close()
            raise
        except psycopg.Error as error:
            self._close()
            raise StorageUnavailableError(self.name, _reason(error)) from error
        except BaseException:
            self._close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is not None and self._connection_pid == os.getpid():
            return self._connection
        self._connection = None  # a parent's connection is never used after fork
        connection = psycopg.connect(self._conninfo, **self._options)
        self._conninfo = primary_first(self._conninfo, connection.info.host)
        connection.add_notice_handler(self._on_notice)
        try:
            with _Watchdog(connection, self._write_timeout_seconds):
                self._ensure_partitions(connection, datetime.now(UTC))
        except BaseException:
            connection.close()
            raise
        self._connection, self._connection_pid = connection, os.getpid()
        return connection

    def _on_notice(self, notice: Diagnostic) -> None:
        """A warning while committing: the commit was done locally without the standby's
        confirmation (the wait cancelled, or the connection being terminated)."""
        if self._committing and notice.severity_nonlocalized == "WARNING":
            self._warnings.append(
                f"the commit was not confirmed by a standby (SQLSTATE {notice.sqlstate})"
            )

    def _erasure_salt(self, connection: psycopg.Connection[Any]) -> str:
        if self._salt is None:
            self._salt = connection.execute(
                "SELECT value FROM log_settings WHERE name = 'erasure_salt'"
            ).fetchone()[0]
        return self._salt

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._connection_pid == os.getpid():
            connection.close()

    def _read(self, query: str, *params: object) -> list[tuple]:
        """Reads for the audit API, tests and the lab: a connection of their own."""
        try:
            with psycopg.connect(self._conninfo, **self._options) as connection:
                return connection.execute(query, params or None).fetchall()
        except psycopg.Error as error:
            raise StorageUnavailableError(self.name, _reason(error)) from error


def _delete_before(connection: psycopg.Connection[Any], cutoff: datetime, inclusive: bool) -> int:
    """Rows received before `cutoff` (or at it, `inclusive`), with their keys and tombstones,
    in short transactions of RETENTION_BATCH rows: requests' writes get in between."""
    total = 0
    while True:
        with connection.transaction():
            connection.execute(NO_STANDBY_WAIT)
            deleted = connection.execute(
                "SELECT churnlab_delete_before(%s, %s, %s)", (cutoff, inclusive, RETENTION_BATCH)
            ).fetchone()[0]
        total += deleted
        if deleted < RETENTION_BATCH:
            return total
        time.sleep(0.01)


class _Watchdog:
    """Cancels the connection's statement once `seconds` have passed, and again every 0.1 s
    until the work ends: PostgreSQL ignores a cancel that arrives between two statements, so
    one cancel alone could miss the commit that then waits for ever."""

    def __init__(self, connection: psycopg.Connection[Any], seconds: float) -> None:
        self._connection = connection
        self._seconds = seconds
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pg-watchdog", daemon=True)
        self.cancelled = False

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finished.set()
        self._thread.join()  # no cancel of this work can reach the next one

    def _watch(self) -> None:
        if self._finished.wait(self._seconds):
            return
        while not self._finished.is_set():
            self.cancelled = True
            self._connection.cancel_safe(timeout=1.0)
            self._finished.wait(0.1)


def primary_first(conninfo: str, primary: str) -> str:
    """`conninfo` with the host it reached the primary on tried first next time: libpq tries
    hosts in order, each for up to connect_timeout, and a frozen standby listed before the
    primary would cost every reconnect that wait."""
    params = conninfo_to_dict(conninfo)
    hosts = str(params.get("host", "")).split(",")
    if primary not in hosts or hosts[0] == primary:
        return conninfo
    first = hosts.index(primary)
    for name in ("host", "hostaddr", "port"):
        values = str(params.get(name, "")).split(",")
        if len(values) == len(hosts):  # one per host (a single port is everyone's)
            params[name] = ",".join([values[first], *values[:first], *values[first + 1 :]])
    return make_conninfo(**params)


def _customer_lock(stored_customer_id: str) -> int:
    """The advisory lock of one customer's predictions: writes share it, an erasure holds it."""
    return int.from_bytes(hashlib.sha256(stored_customer_id.encode()).digest()[:8], signed=True)


def _with_copies(result: Recorded, copies: int) -> Recorded:
    return result._replace(copies=copies) if isinstance(result, Outcome) else result


def _reason(error: psycopg.Error) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
