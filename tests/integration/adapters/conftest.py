"""A throwaway PostgreSQL server (Debian's postgresql-15 package) for the cluster's log adapter."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from churnlab.adapters.postgres_log import SCHEMA_FILE
from churnlab.domain.ingest import (
    IdempotencyKey,
    LoggedPrediction,
    Recording,
    accept,
    fingerprint,
)
from churnlab.domain.schema import CustomerRecord

WRITER = "ingest"  # the login role the log connects as in the tests
BINARIES = Path(os.environ.get("PG_BINARIES", "/usr/lib/postgresql/15/bin"))
# As the cluster's databases are made (pg_autoctl in a container without a locale): SQL_ASCII,
# whose text psycopg hands back as bytes unless the client asks for UTF-8.
INITDB = ("-A", "trust", "-U", "postgres", "--encoding=SQL_ASCII", "--locale=C")


@dataclass
class PostgresServer:
    """A server on a Unix socket only, run as the `postgres` user when the tests run as root."""

    data_dir: Path
    socket_dir: Path
    port: int = 5499

    @property
    def conninfo(self) -> str:
        """As the superuser."""
        return f"host={self.socket_dir} port={self.port} dbname=postgres user=postgres"

    @property
    def writer_conninfo(self) -> str:
        """As ingest connects: a login role in churnlab_writer (install_log makes it)."""
        return f"host={self.socket_dir} port={self.port} dbname=postgres user={WRITER}"

    def install_log(self) -> None:
        """The log's schema, installed as the cluster's database entrypoint does, and the
        writer's login role."""
        self._run(
            str(BINARIES / "psql"), self.conninfo, "-qAt", "-v", "ON_ERROR_STOP=1",
            "-c", "SET synchronous_commit = local", "-f", str(SCHEMA_FILE),
            "-c", f"DO $$ BEGIN CREATE ROLE {WRITER} LOGIN IN ROLE churnlab_writer;"
            " EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )  # fmt: skip

    def pg_ctl(self, *args: str) -> None:
        self._run(str(BINARIES / "pg_ctl"), "-D", str(self.data_dir), "-w", *args)

    def start(self) -> None:
        options = f"-k {self.socket_dir} -p {self.port} -c listen_addresses=''"
        self.pg_ctl("-l", str(self.data_dir / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def sql(self, statement: str) -> None:
        """As the superuser, never waiting for a standby (a test may require an absent one)."""
        self._run(
            str(BINARIES / "psql"), self.conninfo, "-qAt",
            "-c", "SET synchronous_commit = local", "-c", statement,
        )  # fmt: skip

    def _run(self, *command: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    if not (BINARIES / "initdb").exists():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL binaries missing in {BINARIES}: scripts/install-tools.sh")
        pytest.skip("no PostgreSQL server binaries (scripts/install-tools.sh postgresql-15)")
    # Not under pytest's tmp_path: its parents are private to root, and the server is not root.
    root = Path(tempfile.mkdtemp(prefix="churnlab-postgres-"))
    root.chmod(0o777)
    server = PostgresServer(data_dir=root / "data", socket_dir=root)
    try:
        server._run(str(BINARIES / "initdb"), "-D", str(server.data_dir), *INITDB)
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class ReplicatedPostgres:
    """A primary with a synchronous standby that streams from it, as pg_auto_failover runs them,
    on Unix sockets of their own; the standby can be frozen (SIGSTOP), as a paused node is."""

    primary: PostgresServer
    standby: PostgresServer

    @property
    def conninfo(self) -> str:
        return self.primary.conninfo

    def standby_processes(self) -> list[int]:
        postmaster = int((self.standby.data_dir / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    @contextmanager
    def standby_frozen(self) -> Iterator[None]:
        frozen = self.standby_processes()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def replicated_postgres() -> Iterator[ReplicatedPostgres]:
    if not (BINARIES / "pg_basebackup").exists():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL binaries missing in {BINARIES}: scripts/install-tools.sh")
        pytest.skip("no PostgreSQL server binaries (scripts/install-tools.sh postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="churnlab-replicated-"))
    root.chmod(0o777)
    primary = PostgresServer(data_dir=root / "primary", socket_dir=root, port=5497)
    standby = PostgresServer(data_dir=root / "standby", socket_dir=root, port=5498)
    try:
        primary._run(str(BINARIES / "initdb"), "-D", str(primary.data_dir), *INITDB)
        primary.start()
        primary._run(
            str(BINARIES / "pg_basebackup"), "-D", str(standby.data_dir), "-R", "-X", "stream",
            "-d", f"host={root} port=5497 user=postgres application_name=standby1",
        )  # fmt: skip
        standby.start()
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        primary.sql("SELECT pg_reload_conf()")
        replicated = ReplicatedPostgres(primary, standby)
        _wait_streaming(primary)
        yield replicated
        standby.stop()
        primary.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_streaming(primary: PostgresServer, seconds: float = 30) -> None:
    import time

    import psycopg

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(primary.conninfo, client_encoding="utf8") as connection:
            state = connection.execute(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'"
            ).fetchone()
        if state and state[0] == "sync":
            return
        time.sleep(0.2)
    raise TimeoutError("the standby never became synchronous")


@pytest.fixture
def replicated_url(replicated_postgres) -> Iterator[str]:
    """The primary's connection string as ingest's role, with an empty log for each test."""
    yield from _empty_log(replicated_postgres.primary)


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """The server's connection string as ingest's role, with an empty log for each test."""
    yield from _empty_log(postgres_server)


def _empty_log(server: PostgresServer) -> Iterator[str]:
    server.install_log()
    yield server.writer_conninfo
    server.sql("DROP TABLE IF EXISTS predictions, idempotency_keys, erasures, log_settings CASCADE")


def recording(
    customers: list[CustomerRecord],
    request_id: str = "req",
    key: str | None = None,
    received_at: str | None = None,
) -> Recording:
    """An answered request as the workflow hands it to ingest (scores made up)."""
    accepted = accept(
        customers,
        request_id,
        IdempotencyKey(key, fingerprint("/v1/predict/batch", customers)) if key else None,
    )
    predictions = tuple(
        LoggedPrediction(prediction_id, position, customer, 0.42, False, "medium", (), "v-test")
        for position, (prediction_id, customer) in enumerate(
            zip(accepted.prediction_ids, customers, strict=True)
        )
    )
    return Recording(
        request_id, received_at or accepted.received_at, accepted.idempotency, predictions
    )


def write_concurrently(log, customer: CustomerRecord) -> None:
    """Eight threads at once, each recording 50 predictions of its own: 400 in all."""

    def write(worker: int) -> None:
        for index in range(50):
            log.record(recording([customer], f"w{worker}-{index}"))

    writers = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
