"""The failure scenarios of the comparison, as bounded tests on the real containers."""

from __future__ import annotations

import time

import pytest
import requests

from runtimes.faults import DockerFaults, netem_available
from tests.e2e.docker.docker_compose import names, wait_healthy
from tests.e2e.load import Load

pytestmark = pytest.mark.docker


def test_ingest_killed_under_load_every_accepted_record_logged_once(docker_micro, record_body):
    [ingest] = names(docker_micro, "ingest")
    with Load(docker_micro.url, record_body, seconds=8) as load:
        time.sleep(1.5)
        with DockerFaults().fault(ingest, "kill"):  # undone by starting it again
            time.sleep(3)
    assert load.failure_rate == 0, load.failures()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and load.unlogged(docker_micro.logged_request_ids()):
        time.sleep(1)
    assert load.ids
    assert load.unlogged(docker_micro.logged_request_ids()) == []  # every one, once


def test_crashed_inference_replica_recovers_without_anyone_acting(docker_micro, record_body):
    victim = docker_micro.containers("inference")[0]
    with Load(docker_micro.url, record_body, seconds=6) as load:
        time.sleep(1.5)
        with DockerFaults().fault(victim.name, "crash"):
            time.sleep(2)
    assert load.failure_rate <= 0.01, load.failures()
    wait_healthy(docker_micro, "inference", replicas=2)  # Docker's restart policy, nobody else
    victim.reload()
    assert victim.attrs["RestartCount"] >= 1


def test_slow_features_bounded_by_the_timeout_other_routes_unaffected(docker_micro, record_body):
    [features] = docker_micro.containers("features")
    fault = "latency" if netem_available(features) else "blackhole"  # no netem on some kernels
    url = docker_micro.url
    with DockerFaults().fault(features.name, fault, delay_ms=3000):
        time.sleep(0.5)
        for _ in range(3):
            started = time.monotonic()
            response = requests.post(f"{url}/v1/predict", json=record_body, timeout=10)
            assert time.monotonic() - started < 1.5  # the 1 s stage deadline, never a hang
            assert response.status_code == 503
            assert response.json()["stage"] == "features"
        for path in ("/v1/model", "/livez"):
            started = time.monotonic()
            assert requests.get(f"{url}{path}", timeout=5).status_code == 200
            assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + 15
    while requests.post(f"{url}/v1/predict", json=record_body, timeout=5).status_code != 200:
        assert time.monotonic() < deadline


def test_killing_the_monolith_is_a_full_outage_until_it_restarts(docker_monolith, record_body):
    """The edge stays up and says so at once: every route a fast 503 problem+json."""
    [monolith] = names(docker_monolith, "monolith")
    url = docker_monolith.url
    with DockerFaults().fault(monolith, "kill"):
        first = requests.post(f"{url}/v1/predict", json=record_body, timeout=10)
        assert first.status_code == 503  # the request that found it gone, in a few seconds
        for path in ("/v1/predict", "/v1/model", "/livez"):
            started = time.monotonic()
            answer = requests.get(url + path, timeout=5)
            assert time.monotonic() - started < 0.5
            assert answer.status_code == 503
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.headers["Retry-After"] == "1"
        undone_at = time.monotonic()
    while requests.post(f"{url}/v1/predict", json=record_body, timeout=5).status_code != 200:
        assert time.monotonic() - undone_at < 60, "the monolith did not come back"
        time.sleep(0.1)
    print(f"monolith back {time.monotonic() - undone_at:.2f} s after its restart began")
