"""Start real servers for tests: gunicorn processes on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout} s")


@contextmanager
def gunicorn(app: str, tmp_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A gunicorn server with the project's config; stopped with SIGTERM afterwards."""
    port = free_port()
    environment = os.environ | {
        "CHURNLAB_BIND": f"127.0.0.1:{port}",
        "CHURNLAB_PREDICTION_LOG_PATH": str(tmp_path / "prediction_log.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CHURNLAB_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:churnlab.gunicorn_conf", app],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(url)
        except TimeoutError as error:
            log = (tmp_path / "server.log").read_text()[-3000:]
            raise TimeoutError(f"{error}; exit code {process.poll()}; server log:\n{log}") from None
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        sample, value = line.rsplit(" ", 1)
        if all(f'{key}="{wanted}"' in sample for key, wanted in labels.items()):
            total += float(value)
    return total
