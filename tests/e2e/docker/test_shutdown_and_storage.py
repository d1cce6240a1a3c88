"""Shutdown and storage faults in the containers: nothing accepted is lost, nothing is
acknowledged that was not recorded, and the answer in between is a clear 503 problem+json."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from lab.experiments.failures import applied
from lab.experiments.plan import Fault
from runtimes.faults import DockerFaults
from tests.e2e.docker.docker_compose import wait_healthy
from tests.e2e.load import Load

pytestmark = pytest.mark.docker
OVERRIDES = Path(__file__).parent / "overrides"
PROBLEM = (503, "application/problem+json")


def replaced(deployment, service: str, *overrides: str, wait: bool = True) -> None:
    """The service's container removed and created afresh, with these override files on top.
    (Recreating in place would carry its old volume over to the same path.)"""
    files = tuple(OVERRIDES / name for name in overrides)
    deployment.compose("rm", "--stop", "--force", service)
    wait_flag = ("--wait",) if wait else ()
    deployment.compose("up", "-d", "--no-build", "--no-deps", *wait_flag, service, overrides=files)


def scaled(deployment, service: str, replicas: int) -> None:
    """Only `service` changes: its dependencies keep their replicas."""
    deployment.compose(
        "up", "-d", "--no-build", "--no-deps", "--wait", "--scale", f"{service}={replicas}", service
    )
    wait_healthy(deployment, service, replicas=replicas)


def sigterm_one_replica_under_load(deployment, service: str, body: dict) -> Load:
    """Two replicas, load through the edge, SIGTERM to one of them (the first half of
    `docker stop`, what an orchestrator sends a replica it retires)."""
    scaled(deployment, service, 2)
    try:
        victim = deployment.containers(service)[0]
        with Load(deployment.url, body, seconds=8) as load:
            time.sleep(2)
            victim.kill(signal=signal.SIGTERM)
            exit_code = victim.wait(timeout=30)["StatusCode"]
        assert exit_code == 0  # gunicorn finished what it had in flight, then exited
        return load
    finally:
        scaled(deployment, service, 1)


def test_sigterm_of_a_monolith_replica_under_load_fails_nothing(docker_monolith, record_body):
    load = sigterm_one_replica_under_load(docker_monolith, "monolith", record_body)
    assert len(load.statuses) > 100
    assert load.failure_rate == 0, load.failures()
    assert load.unlogged(docker_monolith.logged_request_ids()) == []


def test_sigterm_of_a_gateway_replica_under_load_fails_and_loses_nothing(docker_micro, record_body):
    load = sigterm_one_replica_under_load(docker_micro, "gateway", record_body)
    assert len(load.statuses) > 50
    assert load.failure_rate == 0, load.failures()
    assert load.unlogged(docker_micro.logged_request_ids()) == []


def test_a_gateway_stopped_with_records_spooled_drains_them_as_it_exits(docker_micro, record_body):
    """SIGTERM (docker stop) with records in the spool and ingest back: the exiting workers
    replay them before the process ends, so they are in the log while the gateway is down."""
    replaced(docker_micro, "gateway", "gateway-replay-on-exit-only.yaml")
    [ingest] = docker_micro.containers("ingest")
    try:
        with (
            DockerFaults().fault(ingest.name, "pause"),
            Load(docker_micro.url, record_body, 3) as load,
        ):
            pass
        assert load.failure_rate == 0, load.failures()
        assert False in load.recorded, "nothing was spooled"
        [gateway] = docker_micro.containers("gateway")
        gateway.stop(timeout=25)
        assert gateway.wait(timeout=30)["StatusCode"] == 0
        assert load.unlogged(docker_micro.logged_request_ids()) == []
    finally:
        replaced(docker_micro, "gateway")


def test_a_gateway_killed_while_spooling_replays_after_its_restart(docker_micro, record_body):
    """SIGKILL leaves no time to drain: the spooled records wait on the gateway's volume and
    are replayed once it is back (and ingest too)."""
    fault = Fault("micro", "gateway", "kill-while-spooling")
    # Ingest is paused for a third of 15 s before the kill: a request caught by the pause
    # waits out ingest's read timeout (2.5 s), and those after it spool at once.
    with Load(docker_micro.url, record_body, seconds=14, rate=20) as load:
        time.sleep(1)
        with applied(docker_micro, fault, seconds=15):
            time.sleep(4)
    assert False in load.recorded, "nothing was spooled before the kill"
    wait_for(lambda: not load.unlogged(docker_micro.logged_request_ids()), seconds=90)


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def health(container) -> str:
    container.reload()
    return container.attrs["State"]["Health"]["Status"]


def predicts(url: str, body: dict) -> bool:
    try:
        return requests.post(f"{url}/v1/predict", json=body, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def fill(deployment, service: str, leave_bytes: int) -> None:
    """Fill the service's small /var/lib/churnlab until only `leave_bytes` are free; refuse
    to touch a filesystem bigger than 16 MiB (never fill a real disk)."""
    script = (
        "import os, sys; s = os.statvfs('/var/lib/churnlab');"
        "sys.exit('not the small test disk') if s.f_blocks * s.f_frsize > 16 << 20 else None;"
        f"n = max(s.f_bavail * s.f_frsize - {leave_bytes}, 0);"
        "open('/var/lib/churnlab/filler', 'wb').write(bytes(n))"
    )
    deployment.compose("exec", "-T", service, "python3", "-c", script)


def test_a_full_disk_gives_503s_and_acknowledges_only_what_it_recorded(
    docker_monolith, record_body
):
    replaced(docker_monolith, "monolith", "monolith-small-disk.yaml")
    try:
        wait_for(lambda: predicts(docker_monolith.url, record_body))
        fill(docker_monolith, "monolith", leave_bytes=48 * 1024)
        with Load(docker_monolith.url, record_body, seconds=6) as load:
            pass
        assert load.failures() == {PROBLEM}  # refused, and said so, never a 500 or a hang
        assert load.ids, "nothing was accepted before the disk filled"
        assert load.unlogged(docker_monolith.logged_request_ids()) == []
        docker_monolith.compose("exec", "-T", "monolith", "rm", "/var/lib/churnlab/filler")
        wait_for(lambda: predicts(docker_monolith.url, record_body))  # back by itself
    finally:
        replaced(docker_monolith, "monolith")


def test_a_read_only_log_volume_gives_503s_and_not_ready(docker_monolith, record_body):
    replaced(docker_monolith, "monolith", "monolith-read-only-log.yaml", wait=False)
    try:
        [monolith] = docker_monolith.containers("monolith")
        wait_for(lambda: health(monolith) == "unhealthy")  # so the edge takes it out too
        answer = requests.post(f"{docker_monolith.url}/v1/predict", json=record_body, timeout=10)
        assert (answer.status_code, answer.headers["Content-Type"]) == PROBLEM
        assert answer.headers["Retry-After"]
    finally:
        replaced(docker_monolith, "monolith")
    assert predicts(docker_monolith.url, record_body)


def test_ingest_with_a_full_disk_keeps_the_gateway_in_degraded_mode(docker_micro, record_body):
    replaced(docker_micro, "ingest", "ingest-small-disk.yaml")
    try:
        wait_for(lambda: predicts(docker_micro.url, record_body))
        fill(docker_micro, "ingest", leave_bytes=48 * 1024)
        with Load(docker_micro.url, record_body, seconds=5) as load:
            pass
        assert load.failure_rate == 0, load.failures()
        assert False in load.recorded  # spooled by the gateway while ingest could not record
        docker_micro.compose("exec", "-T", "ingest", "rm", "/var/lib/churnlab/filler")
        wait_for(lambda: not load.unlogged(docker_micro.logged_request_ids()))  # replayed
    finally:
        replaced(docker_micro, "ingest")
