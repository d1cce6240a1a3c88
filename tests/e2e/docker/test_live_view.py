"""The live view for real: Prometheus (Debian's package, local image) finds and scrapes every
service and replica of each deployment, its recording rules yield figures under traffic, a paused
replica shows as down, and its console page renders its table and graphs in Chromium; and the
trace view (MLflow's server, local image) holds each prediction as one trace with every hop's
spans, which its UI shows in Chromium."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests

from runtimes.faults import DockerFaults
from runtimes.paths import ROOT
from runtimes.ports import free_port
from tests.e2e.docker.docker_compose import names
from tests.e2e.load import Load

# The first test of each deployment builds Prometheus's and MLflow's images on a cold machine.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]
DEADLINE_S = 120  # a cold machine builds the image first; scrapes then come every 2 s
JOBS = {
    "monolith": {"edge": 1, "monolith": 1, "prometheus": 1},
    "micro": {"edge": 1, "gateway": 1, "ingest": 1, "features": 1, "inference": 2, "prometheus": 1},
    "hybrid": {"edge": 1, "hybrid": 1, "inference": 2, "prometheus": 1},
}
# What serves the public API behind the edge, in each wiring.
API = {"monolith": "monolith", "micro": "gateway", "hybrid": "hybrid"}


# Each prediction's trace: the spans every wiring has, and its hops': the hybrid's to the model
# tier alone (the Open Inference Protocol's route), the microservices' to every stage.
SPANS = {"POST /v1/predict", "decode and validate", "features", "inference", "ingest", "log commit"}
MODEL_HOP = {"encode", "POST", "decode", "POST /v2/models/<name>/infer"}
HOP_SPANS = {
    "monolith": set(),
    "hybrid": MODEL_HOP,
    "micro": MODEL_HOP | {"POST /v1/features", "POST /v1/ingest"},
}


def live_sh(deployment, *arguments: str) -> None:
    done = subprocess.run(
        ["scripts/live.sh", deployment.file, *arguments],
        cwd=ROOT,
        env=os.environ | deployment.environment,
        capture_output=True,
        text=True,
        timeout=900,  # a cold machine builds MLflow's image first
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module", params=list(JOBS))
def live(request):
    """(deployment, Prometheus URL, trace view URL): `make live` against the test's own Compose
    project; afterwards `live.sh stop` puts its apps back as they were, untraced."""
    deployment = request.getfixturevalue(f"docker_{request.param}")
    ports = {"PROMETHEUS_PORT": str(free_port()), "TRACES_PORT": str(free_port())}
    deployment.environment.update(ports)
    live_sh(deployment)
    yield (
        deployment,
        f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}",
        f"http://127.0.0.1:{ports['TRACES_PORT']}",
    )
    live_sh(deployment, "stop")


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
    deployment, prometheus, _ = live
    expected = JOBS[deployment.file]

    def all_up():
        up = query(prometheus, "job:targets_up:sum")
        targets = query(prometheus, "job:targets:count")
        return up == targets == {job: float(n) for job, n in expected.items()} and up

    eventually(all_up, f"every target of {sorted(expected)} up")


def test_figures_follow_the_traffic(live, record_body):
    deployment, prometheus, _ = live
    serving = {"edge", API[deployment.file]}
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
    deployment, prometheus, _ = live
    service = "monolith" if deployment.file == "monolith" else "inference"
    victim = names(deployment, service)[0]
    total = JOBS[deployment.file][service]
    up = f'job:targets_up:sum{{job="{service}"}}'
    with DockerFaults().fault(victim, "pause"):
        eventually(lambda: query(prometheus, up) == {service: total - 1}, "down", timeout=30)
    eventually(lambda: query(prometheus, up) == {service: total}, f"{victim} up again")


def test_the_console_shows_every_service_with_its_graphs(live, browser):
    deployment, prometheus, _ = live
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


def trace_of(traces: str, request_id: str) -> tuple[str, set[str]] | None:
    """The trace (its id and its spans' names) whose first span carries `request_id`, among
    the trace view's latest, once it has them."""
    found = requests.get(
        f"{traces}/api/2.0/mlflow/traces",
        params={"experiment_ids": "0", "max_results": 50},
        timeout=10,
    )
    found.raise_for_status()
    for listed in found.json().get("traces", []):
        trace = requests.get(
            f"{traces}/api/3.0/mlflow/traces/get",
            params={"trace_id": listed["request_id"]},
            timeout=10,
        ).json()["trace"]
        spans = trace.get("spans", [])
        if any(
            attribute["key"] == "churnlab.request_id"
            and attribute["value"].get("string_value") == request_id
            for span in spans
            for attribute in span.get("attributes", [])
        ):
            return listed["request_id"], {span["name"] for span in spans}
    return None


def test_a_predictions_trace_shows_every_hop_in_the_trace_view(live, record_body, browser):
    deployment, _, traces = live
    request_id = f"live-{uuid.uuid4().hex[:12]}"
    answer = requests.post(
        f"{deployment.url}/v1/predict", json=record_body,
        headers={"X-Request-ID": request_id}, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    expected = SPANS | HOP_SPANS[deployment.file]

    def whole():  # each service exports on its own schedule: wait for every one's spans
        found = trace_of(traces, request_id)
        return found if found and found[1] >= expected else None

    trace_id, names = eventually(whole, f"the trace of {request_id} with {sorted(expected)}")
    assert not names & (HOP_SPANS["micro"] - HOP_SPANS[deployment.file]), names
    browser.get(f"{traces}/#/experiments/0/traces?selectedEvaluationId={trace_id}")
    # The page lists every span of the trace, and the first one's attributes: its request id.
    eventually(
        lambda: (
            (text := browser.find_element("tag name", "body").text)
            and all(name in text for name in expected)
            and request_id in text
        ),
        "the trace's spans and request id in the trace view's page",
    )


def test_the_consoles_p99_links_to_the_traces_of_its_window(live, record_body, browser):
    deployment, prometheus, traces = live
    answer = requests.post(f"{deployment.url}/v1/predict", json=record_body, timeout=10)
    assert answer.status_code == 200, answer.text
    browser.get(f"{prometheus}/consoles/churnlab.html?traces={traces}")
    link = browser.find_element("id", "churnlab-traces").get_attribute("href")
    base, _, query = link.partition("/#/experiments/0/traces?")
    assert base == traces, link
    window = {key: values[0] for key, values in parse_qs(query).items()}
    start, end = (datetime.fromisoformat(window[key]) for key in ("startTime", "endTime"))
    assert window["startTimeLabel"] == "CUSTOM"
    assert end - start == timedelta(minutes=10)  # the graphs' default window, ending now
    assert abs(end - datetime.now(UTC)) < timedelta(minutes=1)

    # The window holds the trace of the prediction just sent, as the trace view tells it.
    def in_window():
        listed = requests.get(
            f"{traces}/api/2.0/mlflow/traces",
            params={"experiment_ids": "0", "max_results": 50},
            timeout=10,
        ).json()["traces"]
        return [
            t
            for t in listed
            if start.timestamp() * 1000 <= t["timestamp_ms"] <= end.timestamp() * 1000
        ]

    eventually(in_window, "a trace in the link's window")
    # Only this machine's loopback is taken as the trace view: no link elsewhere by a crafted URL.
    browser.get(f"{prometheus}/consoles/churnlab.html?traces=http://example.com")
    link = browser.find_element("id", "churnlab-traces").get_attribute("href")
    assert link.startswith("http://127.0.0.1:5000/#/experiments/0/traces?"), link


def test_the_trace_view_answers_only_its_own_host_names(live):
    """MLflow's check against DNS rebinding, as make live starts it: a page of another site
    that resolves its name to 127.0.0.1 gets nothing from the trace view."""
    _, _, traces = live
    search = f"{traces}/api/2.0/mlflow/experiments/search"
    assert requests.get(search, params={"max_results": 1}, timeout=10).status_code == 200
    refused = requests.get(
        search, params={"max_results": 1}, headers={"Host": "evil.example"}, timeout=10
    )
    assert refused.status_code == 403
