"""Helpers for the container tests, over loadtests.deployments.ComposeDeployment."""

from __future__ import annotations

import json
import subprocess
import time


def inspect(container: str) -> dict:
    output = subprocess.run(
        ["docker", "inspect", container], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)[0]


def names(deployment, service: str) -> list[str]:
    return [container.name for container in deployment.containers(service)]


def wait_healthy(deployment, service: str, replicas: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [
            inspect(name)["State"].get("Health", {}).get("Status")
            for name in names(deployment, service)
        ]
        if len(states) == replicas and all(state == "healthy" for state in states):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{service} did not reach {replicas} healthy replicas")
