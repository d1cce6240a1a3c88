"""The microservices as local processes (supervisord), on free ports, with private state."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from churnlab.localrun import MICRO_DEFAULTS
from loadtests.faults import LocalFaults
from tests.deploy.servers import ROOT, free_port, wait_ready

# Shorter than the defaults so resilience tests finish quickly; the behaviour is the same.
TEST_SETTINGS = {
    "CHURNLAB_STAGE_READ_TIMEOUT_SECONDS": "0.5",
    "CHURNLAB_BREAKER_FAILURES": "3",
    "CHURNLAB_BREAKER_RESET_SECONDS": "2",
    "CHURNLAB_REPLAY_EVERY_SECONDS": "0.5",
    "CHURNLAB_LOG_LEVEL": "INFO",
}


@dataclass
class LocalMicro:
    url: str
    run_dir: Path
    state_dir: Path
    faults: LocalFaults

    def logged_request_ids(self) -> list[str]:
        with sqlite3.connect(self.state_dir / "prediction_log.sqlite3") as log:
            return [row[0] for row in log.execute("SELECT request_id FROM accepted_records")]

    def spooled(self) -> int:
        path = self.state_dir / "gateway_spool.sqlite3"
        with sqlite3.connect(path) as spool:
            return spool.execute("SELECT count(*) FROM accepted_records").fetchone()[0]

    def log_text(self, component: str) -> str:
        return (self.run_dir / f"{component}.log").read_text()


@contextmanager
def local_micro(base: Path) -> Iterator[LocalMicro]:
    ports = {name: str(free_port()) for name in MICRO_DEFAULTS if "PORT" in name}
    env = (
        os.environ
        | TEST_SETTINGS
        | ports
        | {
            "CHURNLAB_RUN_DIR": str(base / "run"),
            "MICRO_STATE_DIR": str(base / "state"),
        }
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    runner = [sys.executable, "-m", "churnlab.localrun"]
    subprocess.run([*runner, "up", "micro"], cwd=ROOT, env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    try:
        wait_ready(url, timeout=60)
        yield LocalMicro(url, base / "run", base / "state", LocalFaults(base / "run"))
    finally:
        subprocess.run([*runner, "down"], cwd=ROOT, env=env, check=False, capture_output=True)
