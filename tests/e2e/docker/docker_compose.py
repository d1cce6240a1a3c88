"""Helpers for the container tests, over runtimes.compose.ComposeDeployment."""

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


def assert_hardened_behind_the_edge(deployment) -> None:
    """Every container non-root, read-only, without capabilities, with CPU and memory limits;
    only the edge published, on 127.0.0.1; everything else on the internal network alone."""
    for container in deployment.containers():
        details = inspect(container.name)
        host = details["HostConfig"]
        service = details["Config"]["Labels"]["com.docker.compose.service"]
        assert details["Config"]["User"] not in ("", "0", "root"), container.name
        assert host["ReadonlyRootfs"] is True, container.name
        assert host["CapDrop"] == ["ALL"], container.name
        assert "no-new-privileges:true" in host["SecurityOpt"], container.name
        assert host["NanoCpus"] > 0, container.name
        assert host["Memory"] > 0, container.name
        published = {port: b for port, b in (host["PortBindings"] or {}).items() if b}
        networks = set(details["NetworkSettings"]["Networks"])
        if service == "edge":
            assert [b["HostIp"] for b in published["8000/tcp"]] == ["127.0.0.1"]
            assert networks == {f"{deployment.project}_internal", f"{deployment.project}_public"}
        else:
            assert not published, container.name
            assert networks == {f"{deployment.project}_internal"}, container.name
