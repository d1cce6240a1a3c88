"""A peer: how it is installed, started, asked and stopped (the servers' own modules run in
their venvs and import nothing of this)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

from runtimes import venvs
from runtimes.paths import ROOT
from runtimes.ports import free_port

WORKERS = 2  # worker processes, as the monolith's gunicorn runs


@dataclass(frozen=True)
class Peer:
    name: str  # as the bench's table names it
    requirements: tuple[str, ...]  # pip's, into its own venv
    health_path: str  # a 200 there once it serves
    predict_path: str
    body: Callable[[dict], dict]  # a ChurnLab record as this server takes it
    probability: Callable[[dict], float]  # the churn probability in its answer
    command: Callable[[Path, int], list[str]]  # its venv and port to the server's command
    prepare: Callable[[Path], None] = field(default=lambda venv: None)  # once, before it starts
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def venv(self) -> Path:
        return venvs.venv_path(self.name)


def ensure_venv(peer: Peer) -> Path:
    """The peer's venv (runtimes/venvs.py), installed on first use."""
    return venvs.ensure_venv(peer.venv, peer.requirements)


@contextmanager
def served(peer: Peer, timeout: float = 300) -> Iterator[str]:
    """The peer's server on a free loopback port; its URL, until the block ends (its whole
    process group is stopped then)."""
    ensure_venv(peer)
    peer.prepare(peer.venv)
    port = free_port()
    server = subprocess.Popen(
        peer.command(peer.venv, port),
        cwd=ROOT,
        # Servers start their workers by name: the venv's own bin must come first.
        env=os.environ
        | {"PATH": f"{peer.venv / 'bin'}:{os.environ.get('PATH', '')}"}
        | peer.environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url + peer.health_path):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{peer.name} did not start (exit {server.poll()})")
            time.sleep(0.5)
        yield url
    finally:
        stop_group(server)


def stop_group(server: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the server's whole process group, then until every process of it is gone
    (workers may outlive their leader), SIGKILL after `grace`: none may run into the next
    peer's rounds."""
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        server.poll()  # reap the leader, or the group never empties
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def probability(peer: Peer, url: str, record: dict) -> float:
    answer = requests.post(url + peer.predict_path, json=peer.body(record), timeout=30)
    answer.raise_for_status()
    return peer.probability(answer.json())


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
