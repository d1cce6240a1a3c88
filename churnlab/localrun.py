"""Run a deployment as local processes when there is no Docker: the same edge (HAProxy) and
gunicorn apps as in the containers, under supervisord (compose/local/).

`python -m churnlab.localrun up monolith|micro` starts one detached, with its logs and
supervisord socket under .run/<deployment>/ (CHURNLAB_RUN_DIR is the parent) and its state
under var/<deployment>/ (CHURNLAB_STATE_DIR); `down` stops what was started with SIGTERM, which
supervisord passes on, so the edge and gunicorn finish in-flight requests first. Both
deployments can run at once: their ports differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
SUPERVISOR_CONFIG = ROOT / "compose" / "local" / "supervisord.conf"
# Per deployment: the variables compose/local/*.conf read, each with the environment variable
# that overrides it and its default. Only the edge's port is public (always on 127.0.0.1).
PORTS: dict[str, dict[str, tuple[str, str]]] = {
    "monolith": {
        "EDGE_PORT": ("MONOLITH_PORT", "8000"),
        "APP_PORT": ("MONOLITH_APP_PORT", "8001"),
        "EDGE_ADMIN_PORT": ("MONOLITH_EDGE_ADMIN_PORT", "8404"),
    },
    "micro": {
        "EDGE_PORT": ("GATEWAY_PORT", "8080"),
        "APP_PORT": ("GATEWAY_APP_PORT", "8081"),
        "EDGE_ADMIN_PORT": ("MICRO_EDGE_ADMIN_PORT", "8484"),
        "INGEST_PORT": ("INGEST_PORT", "8101"),
        "FEATURES_PORT": ("FEATURES_PORT", "8102"),
        "INFERENCE_PORT_PREFIX": ("INFERENCE_PORT_PREFIX", "811"),
    },
}
DEPLOYMENTS = tuple(PORTS)
# What tells the edge that a replica can take requests (see edge/haproxy.cfg, EDGE_CHECK_PATH).
EDGE_CHECK_PATH = {"monolith": "/readyz", "micro": "/livez"}


def run_dir() -> Path:
    return Path(os.environ.get("CHURNLAB_RUN_DIR", ROOT / ".run"))


def ports(deployment: str) -> dict[str, str]:
    """The ports a deployment uses here, overrides applied."""
    return {
        name: os.environ.get(variable, default)
        for name, (variable, default) in PORTS[deployment].items()
    }


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
