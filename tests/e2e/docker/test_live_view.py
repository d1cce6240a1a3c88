"""The live view for real: Prometheus (Debian's package, local image) finds and scrapes every
service and replica of each deployment, its recording rules yield figures under traffic, a paused
replica shows as down, and its console page renders its table and graphs in Chromium."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests

from runtimes.faults import DockerFaults
from runtimes.paths import ROOT
from runtimes.ports import free_port
from tests.e2e.docker.docker_compose import names
from tests.e2e.load import Load

pytestmark = pytest.mark.docker
DEADLINE_S = 120  # a cold machine builds the image first; scrapes then come every 2 s
JOBS = {
    "monolith": {"edge": 1, "monolith": 1, "prometheus": 1},
    "micro": {"edge": 1, "gateway": 1, "ingest": 1, "features": 1, "inference": 2, "prometheus": 1},
}


@pytest.fixture(scope="module", params=["monolith", "micro"])
def live(request):
    """(deployment, Prometheus URL): `make live` against the test's own Compose project."""
    deployment = request.getfixturevalue(f"docker_{request.param}")
    port = str(free_port())
    deployment.environment["PROMETHEUS_PORT"] = port
    started = subprocess.run(
        ["scripts/live.sh", deployment.file],
        cwd=ROOT,
        env=os.environ | deployment.environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    yield deployment, f"http://127.0.0.1:{port}"
    deployment.compose("--profile", "live", "rm", "-sf", "prometheus", check=False)


def query(prometheus: str, expression: str) -> dict[str, float]:
    """An instant query's value per job."""
    answer = requests.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=5)
    answer.raise_for_status()
    return {
        sample["metric"].get("job", ""): float(sample["value"][1])
        for sample in answer.json()["data"]["result"]
    }


def eventually(check, what: str, timeout: float = DEADLINE_S):
    """Poll `check` until it returns something truthy; every error before the deadline is
    transient (Prometheus may still be starting, or a scrape not yet in)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, KeyError, ValueError) as error:
            last = error
        time.sleep(1)
    raise AssertionError(f"{what} not seen within {timeout} s; last: {last!r}")


def test_prometheus_scrapes_every_service_and_replica(live):
    deployment, prometheus = live
    expected = JOBS[deployment.file]

    def all_up():
        up = query(prometheus, "job:targets_up:sum")
        targets = query(prometheus, "job:targets:count")
        return up == targets == {job: float(n) for job, n in expected.items()} and up

    eventually(all_up, f"every target of {sorted(expected)} up")


def test_figures_follow_the_traffic(live, record_body):
    deployment, prometheus = live
    serving = {"edge", "monolith"} if deployment.file == "monolith" else {"edge", "gateway"}
    with Load(deployment.url, record_body, seconds=8, rate=20) as load:

        def serving_rates():
            rates = query(prometheus, "job:requests:rate15s")
            return all(rates.get(job, 0) > 0 for job in serving) and rates

        rates = eventually(serving_rates, f"request rates of {sorted(serving)}", timeout=30)
    assert load.failure_rate == 0, load.failures()
    assert set(rates) >= serving
    latency = eventually(lambda: query(prometheus, "job:latency_seconds:p99_15s"), "p99")
    assert all(0 < seconds < 5 for seconds in latency.values()), latency


def test_a_paused_replica_shows_as_down_and_then_up(live):
    deployment, prometheus = live
    service = "monolith" if deployment.file == "monolith" else "inference"
    victim = names(deployment, service)[0]
    total = JOBS[deployment.file][service]
    up = f'job:targets_up:sum{{job="{service}"}}'
    with DockerFaults().fault(victim, "pause"):
        eventually(lambda: query(prometheus, up) == {service: total - 1}, "down", timeout=30)
    eventually(lambda: query(prometheus, up) == {service: total}, f"{victim} up again")


def test_the_console_shows_every_service_with_its_graphs(live, browser):
    deployment, prometheus = live
    eventually(
        lambda: (
            query(prometheus, "job:targets_up:sum")
            == {job: float(n) for job, n in JOBS[deployment.file].items()}
        ),
        "every target up",
    )
    browser.get(f"{prometheus}/consoles/churnlab.html")
    rows = {
        row.get_attribute("data-job"): row.find_element("css selector", ".churnlab-up").text
        for row in browser.find_elements("css selector", "tr.churnlab-service")
    }
    running = {job: n for job, n in JOBS[deployment.file].items() if job != "prometheus"}
    for job, replicas in running.items():
        assert rows[job] == f"{replicas} of {replicas} up", rows
    for job in set(rows) - set(running):
        assert rows[job] == "not running", rows
    # Each graph is drawn by the console library (Rickshaw) as an SVG with one path per series.
    eventually(
        lambda: len(browser.find_elements("css selector", ".churnlab-graph svg path")) >= 4,
        "the four graphs drawn",
        timeout=30,
    )
    assert len(browser.find_elements("css selector", ".churnlab-graph")) == 4
