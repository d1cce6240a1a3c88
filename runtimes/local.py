"""Run a deployment as local processes when there is no Docker: the same edge (HAProxy) and
gunicorn apps as in the containers, under supervisord (compose/local/).

`python -m runtimes.local up monolith|micro|hybrid` starts one detached, with its logs and
supervisord socket under .run/<deployment>/ (CHURNLAB_RUN_DIR is the parent) and its state
under var/<deployment>/ (CHURNLAB_STATE_DIR); `down` stops what was started with SIGTERM, which
supervisord passes on, so the edge and gunicorn finish in-flight requests first. Both
deployments can run at once: their ports differ. `local_deployment` does the same on free
ports for the tests, the bench and the lab, and `gunicorn` runs one app alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from churnlab.adapters.log_rows import REQUEST_COUNTS
from runtimes.faults import LocalFaults
from runtimes.http import wait_ready
from runtimes.paths import ROOT, run_dir
from runtimes.ports import DEPLOYMENTS, PORTS, free_port, free_ports, ports
from runtimes.shell import audit_key_file
from runtimes.venvs import ensure_venv, venv_path

BIN_DIR = Path(sys.executable).parent
SUPERVISOR_CONFIG = ROOT / "compose" / "local" / "supervisord.conf"
# What tells the edge that a replica can take requests (see edge/haproxy.cfg, EDGE_CHECK_PATH).
EDGE_CHECK_PATH = {"monolith": "/readyz", "micro": "/livez", "hybrid": "/livez"}
MODEL_SERVERS = ("churnlab", "mlserver")


def inference_command(model_server: str) -> str:
    """What serves the model tier (MODEL_SERVER): ChurnLab's inference service, or MLServer
    with ChurnLab's runtime (services/mlserver/), its venv installed on first use."""
    if model_server == "mlserver":
        from churnlab.config import Settings
        from services.mlserver import REQUIREMENTS, model_settings

        try:
            model_settings(Settings.from_env())  # refused here, not by each replica
        except ValueError as error:
            raise SystemExit(f"MODEL_SERVER=mlserver: {error}") from None
        python = ensure_venv(venv_path("mlserver"), REQUIREMENTS)
        return f"{python} -m services.mlserver"
    if model_server != "churnlab":
        raise SystemExit(f"MODEL_SERVER={model_server}: choose from {', '.join(MODEL_SERVERS)}")
    return (
        f"{BIN_DIR}/gunicorn -c python:churnlab.gunicorn_conf services.inference.app:create_app()"
    )


def up(deployment: str) -> None:
    if shutil.which("haproxy") is None:
        raise SystemExit(
            "the edge needs HAProxy, which is not installed: "
            "sudo apt-get install haproxy (or run scripts/install-tools.sh as root)"
        )
    runs = run_dir() / deployment
    runs.mkdir(parents=True, exist_ok=True)
    pid_file = run_dir() / f"{deployment}.pid"
    if _alive(pid_file):
        print(f"{deployment} already running (pid {pid_file.read_text().strip()})")
        return
    state = Path(os.environ.get("CHURNLAB_STATE_DIR", ROOT / "var" / deployment))
    state.mkdir(parents=True, exist_ok=True)
    environment = (
        os.environ
        | ports(deployment)
        | {
            "DEPLOYMENT": deployment,
            "BIN_DIR": str(BIN_DIR),
            "CHURNLAB_RUN_DIR": str(runs.resolve()),
            "STATE_DIR": str(state.resolve()),
            "EDGE_DIR": str(ROOT / "edge"),
            "EDGE_CHECK_PATH": EDGE_CHECK_PATH[deployment],
            "INFERENCE_COMMAND": ""
            if deployment == "monolith"
            else inference_command(os.environ.get("MODEL_SERVER", "churnlab")),
            "PATH": f"{BIN_DIR}:{os.environ.get('PATH', '')}",
        }
    )
    # Each gunicorn makes its own metrics folder; a shared one would mix services' counts.
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (runs / "supervisord.out").open("ab") as log:
        process = subprocess.Popen(
            [str(BIN_DIR / "supervisord"), "-c", str(SUPERVISOR_CONFIG)],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    print(f"{deployment}: pid {process.pid}, logs in {runs}")


def down(deployments: tuple[str, ...] = DEPLOYMENTS, grace_seconds: float = 30.0) -> None:
    for deployment in deployments:
        pid_file = run_dir() / f"{deployment}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        if _alive(pid_file):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_seconds
            while _alive(pid_file) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid_file):
                os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
        print(f"stopped {deployment} (pid {pid})")


def _alive(pid_file: Path) -> bool:
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child is dead for our purposes; reap it if it is ours.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return finished == 0


@contextmanager
def gunicorn(app: str, tmp_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A gunicorn server with the project's config; stopped with SIGTERM afterwards."""
    tmp_path.mkdir(parents=True, exist_ok=True)
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


@dataclass
class LocalDeployment:
    """`make up-monolith`, `up-micro` or `up-hybrid` without Docker, on free loopback ports."""

    name: str
    run_dir: Path
    state_dir: Path
    ports: dict[str, str]
    faults: LocalFaults

    @property
    def url(self) -> str:
        """The edge: what clients use."""
        return f"http://127.0.0.1:{self.ports['EDGE_PORT']}"

    @property
    def app_url(self) -> str:
        """The monolith, the gateway or the hybrid API itself, behind the edge."""
        return f"http://127.0.0.1:{self.ports['APP_PORT']}"

    @property
    def pid(self) -> int:
        """supervisord's pid: the root of every process of the deployment."""
        return int((self.run_dir.parent / f"{self.name}.pid").read_text())

    def stage_url(self, stage: str) -> str:
        if stage == "inference":
            return f"http://127.0.0.1:{self.ports['INFERENCE_PORT_PREFIX']}1"
        return f"http://127.0.0.1:{self.ports[stage.upper() + '_PORT']}"

    def logged_request_ids(self) -> Counter[str]:
        """Predictions in the prediction log, by correlation id."""
        with sqlite3.connect(self.state_dir / "prediction_log.sqlite3") as log:
            return Counter(dict(log.execute(REQUEST_COUNTS).fetchall()))

    def spooled(self) -> int:
        """Records in the gateway's spool, waiting for ingest."""
        path = self.state_dir / "gateway_spool.sqlite3"
        with sqlite3.connect(path) as spool:
            return spool.execute("SELECT coalesce(sum(records), 0) FROM spooled").fetchone()[0]

    def log_text(self, component: str) -> str:
        return (self.run_dir / f"{component}.log").read_text()


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _log_tails(run_dir: Path, lines: int = 15) -> str:
    tails = []
    for log in sorted(run_dir.glob("*.log")) + sorted(run_dir.glob("*.out")):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        tails.append(f"--- {log.name}\n{tail}")
    return "\n".join(tails)


@contextmanager
def local_deployment(name: str, base: Path, **environment: str) -> Iterator[LocalDeployment]:
    """A local deployment on free ports, with any settings given; always stopped afterwards."""
    chosen = free_ports(name)
    overrides = {variable: chosen[port] for port, (variable, _) in PORTS[name].items()}
    env = (
        os.environ
        | overrides
        | {
            "CHURNLAB_RUN_DIR": str(base / "run"),
            "CHURNLAB_STATE_DIR": str(base / "state"),
            "CHURNLAB_AUDIT_KEY_FILE": str(audit_key_file()),
        }
        | environment
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    runner = [sys.executable, "-m", "runtimes.local"]
    subprocess.run([*runner, "up", name], cwd=ROOT, env=env, check=True, capture_output=True)
    run_dir = base / "run" / name
    deployment = LocalDeployment(name, run_dir, base / "state", chosen, LocalFaults(run_dir))
    try:
        try:
            wait_ready(deployment.url, running=lambda: _running(deployment.pid))
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{_log_tails(run_dir)}") from None
        yield deployment
    finally:
        subprocess.run([*runner, "down", name], cwd=ROOT, env=env, check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("deployment", nargs="?", choices=DEPLOYMENTS)
    args = parser.parse_args()
    if args.action == "up":
        up(args.deployment or "monolith")
    else:
        down((args.deployment,) if args.deployment else DEPLOYMENTS)


if __name__ == "__main__":
    main()
