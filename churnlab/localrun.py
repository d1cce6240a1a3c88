"""Run a deployment as local processes when there is no Docker engine.

`python -m churnlab.localrun up monolith|micro` starts it detached, with logs and pid files
under .run/ (CHURNLAB_RUN_DIR); `down` stops what it started with SIGTERM, so gunicorn finishes
in-flight requests first.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN_DIR = Path(os.environ.get("CHURNLAB_RUN_DIR", ".run"))
BIN_DIR = Path(sys.executable).parent
GUNICORN = [str(BIN_DIR / "gunicorn"), "-c", "python:churnlab.gunicorn_conf"]
SUPERVISOR_CONFIG = "compose/supervisord.micro.conf"
# Defaults for the variables compose/supervisord.micro.conf reads; the environment overrides them.
MICRO_DEFAULTS = {
    "GATEWAY_PORT": "8080",
    "INGEST_PORT": "8101",
    "FEATURES_PORT": "8102",
    "INFERENCE_PORT_1": "8111",
    "INFERENCE_PORT_2": "8112",
    "INFERENCE_PORT_3": "8113",
    "MICRO_STATE_DIR": "var/micro",
}
# deployment -> (command, extra environment). The microservices run under supervisord, which
# restarts a process that dies and passes SIGTERM on to every process when it is stopped.
DEPLOYMENTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "monolith": (
        [*GUNICORN, "monolith.app:create_app()"],
        {"CHURNLAB_BIND": f"127.0.0.1:{os.environ.get('MONOLITH_PORT', '8000')}"},
    ),
    "micro": (
        [str(BIN_DIR / "supervisord"), "-c", SUPERVISOR_CONFIG],
        MICRO_DEFAULTS
        | {key: os.environ[key] for key in MICRO_DEFAULTS if key in os.environ}
        | {"BIN_DIR": str(BIN_DIR), "CHURNLAB_RUN_DIR": str(RUN_DIR.resolve())},
    ),
}


def up(deployment: str) -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    pid_file = RUN_DIR / f"{deployment}.pid"
    if _alive(pid_file):
        print(f"{deployment} already running (pid {pid_file.read_text().strip()})")
        return
    command, extra_env = DEPLOYMENTS[deployment]
    environment = os.environ | extra_env | {"PATH": f"{BIN_DIR}:{os.environ.get('PATH', '')}"}
    # Each gunicorn makes its own metrics folder; a shared one would mix services' counts.
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    Path(environment.get("MICRO_STATE_DIR", MICRO_DEFAULTS["MICRO_STATE_DIR"])).mkdir(
        parents=True, exist_ok=True
    )
    with (RUN_DIR / f"{deployment}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    print(f"{deployment}: pid {process.pid}, log {RUN_DIR / (deployment + '.log')}")


def down(grace_seconds: float = 25.0) -> None:
    for pid_file in (RUN_DIR / f"{name}.pid" for name in DEPLOYMENTS):
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
        print(f"stopped {pid_file.stem} (pid {pid})")


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
    parser.add_argument("deployment", nargs="?", choices=sorted(DEPLOYMENTS), default="monolith")
    args = parser.parse_args()
    up(args.deployment) if args.action == "up" else down()


if __name__ == "__main__":
    main()
