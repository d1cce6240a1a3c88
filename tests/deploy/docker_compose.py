"""Bring a Compose deployment up under a test-only project name and port, and always down."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests.deploy.servers import ROOT, free_port, wait_ready


def compose(
    project: str, file: str, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "compose", "-p", project, "-f", f"compose/{file}.yaml", *args],
        cwd=ROOT,
        env=os.environ | (env or {}),
        check=check,
        capture_output=True,
        text=True,
    )


@contextmanager
def deployment(file: str, port_variable: str) -> Iterator[tuple[str, str]]:
    """Build through the README's own script, then start on a free port; yields (url, project)."""
    project = f"churnlab-test-{file}"
    port = free_port()
    env = {"RUNTIME": "docker", "COMPOSE_PROJECT_NAME": project, port_variable: str(port)}
    try:
        subprocess.run(
            ["scripts/up.sh", file],
            cwd=ROOT,
            env=os.environ | env,
            check=True,
            capture_output=True,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, timeout=120)
        yield url, project
    finally:
        compose(project, file, "down", "--volumes", "--remove-orphans", env=env, check=False)


def _base_image() -> str:
    """What scripts/up.sh would build on: the official image if present, else the local one."""
    chosen = subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/runtime.sh && choose_base_image >/dev/null && echo "$PYTHON_IMAGE"',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return os.environ.get("PYTHON_IMAGE") or chosen.stdout.strip()


def inspect(container: str) -> dict:
    output = subprocess.run(
        ["docker", "inspect", container], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)[0]
