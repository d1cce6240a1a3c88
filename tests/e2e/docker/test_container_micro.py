"""The microservices in containers: hardening, image contents, and resilience for real."""

from __future__ import annotations

import statistics
import subprocess
import time

import pytest
import requests

from runtimes.faults import DockerFaults
from runtimes.http import wait_predicting
from runtimes.rollout import roll_out
from tests.e2e.docker.docker_compose import assert_hardened_behind_the_edge, names, wait_healthy
from tests.e2e.load import Load

pytestmark = pytest.mark.docker


def image_modules(image: str, modules: tuple[str, ...]) -> list[str]:
    probe = (
        f"import importlib.util as u, sys;print(' '.join(m for m in {modules!r} if u.find_spec(m)))"
    )
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python3", image, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.split()


def test_every_container_is_hardened_and_only_the_edge_is_published(docker_micro):
    services = {
        container.labels["com.docker.compose.service"] for container in docker_micro.containers()
    }
    assert services == {"edge", "gateway", "ingest", "features", "inference"}
    assert_hardened_behind_the_edge(docker_micro)


def test_images_carry_only_what_they_need():
    ml = ("numpy", "onnxruntime", "sklearn", "pandas", "skl2onnx")
    assert image_modules("churnlab/gateway:latest", ml) == []
    assert image_modules("churnlab/features:latest", ml) == []
    assert image_modules("churnlab/ingest:latest", ml) == []
    assert image_modules("churnlab/inference:latest", ml) == ["numpy", "onnxruntime"]


def test_killing_one_of_two_inference_replicas_under_load(docker_micro, record_body):
    url = docker_micro.url
    victim = names(docker_micro, "inference")[0]
    with Load(url, record_body, seconds=6) as load:
        time.sleep(1.5)
        with DockerFaults().fault(victim, "kill"):
            time.sleep(2)
    assert len(load.statuses) > 50
    assert load.failure_rate <= 0.01, load.failures()
    wait_healthy(docker_micro, "inference", replicas=2)


def test_ingest_paused_under_load_every_record_logged_once_after(docker_micro, record_body):
    url = docker_micro.url
    [ingest] = names(docker_micro, "ingest")
    with Load(url, record_body, seconds=6) as load:
        time.sleep(1)
        with DockerFaults().fault(ingest, "pause"):
            time.sleep(3)
    assert load.failure_rate == 0, load.failures()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and load.unlogged(docker_micro.logged_request_ids()):
        time.sleep(0.5)
    assert load.ids
    assert load.unlogged(docker_micro.logged_request_ids()) == []  # every one, once
    # A breaker opened in the pause refuses until its reset time is up (3 s) without traffic
    # to try it; then the health watch, which found ingest back, makes the gateway ready.
    deadline, ready = time.monotonic() + 15, {}
    while time.monotonic() < deadline:
        ready = requests.get(f"{url}/readyz", timeout=5).json()
        if ready["status"] == "ready":
            break
        time.sleep(0.5)
    assert ready["status"] == "ready", ready


def test_rolling_out_a_scaled_service_under_load_loses_nothing(docker_micro, record_body):
    url = docker_micro.url
    with Load(url, record_body, seconds=12) as load:
        time.sleep(1)
        roll_out(docker_micro, "inference")
    assert load.failure_rate == 0, load.failures()
    assert len(names(docker_micro, "inference")) == 2


def test_recreating_a_single_replica_gives_only_fast_503s(docker_micro, record_body):
    url = docker_micro.url
    with Load(url, record_body, seconds=8) as load:
        time.sleep(1)
        docker_micro.compose("up", "-d", "--no-deps", "--no-build", "--force-recreate", "features")
    failures = [
        elapsed
        for status, elapsed in zip(load.statuses, load.elapsed, strict=True)
        if status != 200
    ]
    assert all(status in (200, 503) for status in load.statuses), sorted(set(load.statuses))
    # Fast: a refused connection or no address at all. A request caught in the instant the old
    # container's address goes silent waits out the call's deadline (1 s), never more.
    assert statistics.median(failures) < 0.05, statistics.median(failures)
    assert max(failures) < 1.5, max(failures)
    wait_predicting(url, record_body, timeout=60, in_a_row=3)  # and it comes back
