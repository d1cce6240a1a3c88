"""Compose deployments under a test-only project name and free port, always taken down."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from loadtests.deployments import ROOT, free_port, wait_ready

# Compose interpolates the build arguments even for `up` without --build: reuse the base image
# that scripts/up.sh chose, so later commands see the same configuration.
_build_env: dict[str, str] = {}


def _base_image() -> str:
    """What scripts/up.sh builds on: the official image if present, else the local one."""
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


def compose(
    project: str, file: str, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "compose", "-p", project, "-f", f"compose/{file}.yaml", *args],
        cwd=ROOT,
        env=os.environ | _build_env | (env or {}),
        check=check,
        capture_output=True,
        text=True,
    )


@contextmanager
def deployment(file: str, port_variable: str) -> Iterator[tuple[str, str]]:
    """Build through the README's own script, then start on a free port; yields (url, project)."""
    project = f"churnlab-test-{file}"
    port = str(free_port())
    _build_env.update(PYTHON_IMAGE=_base_image(), COMPOSE_PROJECT_NAME=project)
    env = {"RUNTIME": "docker", port_variable: port}
    try:
        subprocess.run(
            ["scripts/up.sh", file],
            cwd=ROOT,
            env=os.environ | _build_env | env,
            check=True,
            capture_output=True,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, timeout=120)
        yield url, project
    finally:
        compose(project, file, "down", "--volumes", "--remove-orphans", env=env, check=False)


def inspect(container: str) -> dict:
    output = subprocess.run(
        ["docker", "inspect", container], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)[0]


def containers(project: str, file: str, service: str) -> list[str]:
    """Names of a service's running replicas, e.g. churnlab-test-micro-inference-1."""
    ids = compose(project, file, "ps", "-q", service).stdout.split()
    return [inspect(container_id)["Name"].lstrip("/") for container_id in ids]


def wait_healthy(project: str, file: str, service: str, replicas: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = containers(project, file, service)
        states = [inspect(name)["State"].get("Health", {}).get("Status") for name in names]
        if len(names) == replicas and all(state == "healthy" for state in states):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{service} did not reach {replicas} healthy replicas")
