"""Run a deployment as local processes when there is no Docker engine.

`python -m churnlab.localrun up monolith` starts it detached, with its log and pid file under
.run/ (CHURNLAB_RUN_DIR); `down` stops every process it started with SIGTERM, so gunicorn
finishes in-flight requests first.
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
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "python:churnlab.gunicorn_conf"]
DEPLOYMENTS: dict[str, list[tuple[str, str, dict[str, str]]]] = {
    # name -> [(process name, WSGI app, extra environment)]
    "monolith": [
        (
            "monolith",
            "monolith.app:create_app()",
            {"CHURNLAB_BIND": f"127.0.0.1:{os.environ.get('MONOLITH_PORT', '8000')}"},
        )
    ],
}


def up(deployment: str) -> None:
    RUN_DIR.mkdir(exist_ok=True)
    for name, app, extra_env in DEPLOYMENTS[deployment]:
        pid_file = RUN_DIR / f"{name}.pid"
        if _alive(pid_file):
            print(f"{name} already running (pid {pid_file.read_text().strip()})")
            continue
        with (RUN_DIR / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [*GUNICORN, app],
                env=os.environ | extra_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pid_file.write_text(str(process.pid))
        print(f"{name}: pid {process.pid}, log {RUN_DIR / (name + '.log')}")


def down(grace_seconds: float = 25.0) -> None:
    for pid_file in sorted(RUN_DIR.glob("*.pid")):
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
