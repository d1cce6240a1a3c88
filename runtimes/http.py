"""What every runtime asks a deployment over HTTP: is it ready, does it predict, a metric."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

# A cold machine (no .pyc, images just built, CI busy) can take a long time to boot workers.
READY_TIMEOUT_SECONDS = 180.0


def wait_ready(
    url: str, timeout: float = READY_TIMEOUT_SECONDS, running: Callable[[], bool] = lambda: True
) -> None:
    """Poll /readyz until 200. Every failure before the deadline counts as "not yet": refused
    or reset connections, read timeouts while workers boot, 503s while the model loads. Only
    `running()` turning false (the server exited) ends the wait early."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not running():
            raise TimeoutError(f"{url} exited before it was ready; last: {last}")
        try:
            response = requests.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code}: {response.text[:300]}"
        except requests.RequestException as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:g} s; last: {last}")


def wait_predicting(url: str, body: dict, timeout: float = 180, in_a_row: int = 10) -> None:
    """Until `in_a_row` predictions in a row are answered 200 and recorded. Ready means every
    stage is up, ingest too: a gateway answers 200 while ingest is still starting, spooling the
    record (`recorded: false`), and a test that reads the record back would meet a breaker
    opened by that start. Not yet warm: on a cold machine still busy with the previous tests,
    the first call through each replica can outlast the tests' tightened stage deadline
    (0.5 s); ten in a row reach every replica. Logged as `warm-up-<n>`."""
    deadline, attempt, answered, last = time.monotonic() + timeout, 0, 0, "no answer yet"
    while time.monotonic() < deadline:
        attempt += 1
        try:
            answer = requests.post(
                f"{url}/v1/predict", json=body, headers={"X-Request-ID": f"warm-up-{attempt}"},
                timeout=10,
            )  # fmt: skip
            recorded = answer.status_code == 200 and answer.json().get("recorded") is True
            answered = answered + 1 if recorded else 0
            if answered >= in_a_row:
                return
            last = f"{answer.status_code}: {answer.text[:300]}"
        except requests.RequestException as error:
            answered, last = 0, f"{type(error).__name__}: {error}"
        time.sleep(0.05 if answered else 0.5)
    raise TimeoutError(
        f"{url}: not {in_a_row} recorded predictions in a row in {timeout:g} s; last: {last}"
    )


def wait_for(check: Callable[[], object], what: str, timeout: float = 120) -> None:
    """Until `check()` is truthy; errors before the deadline count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (RuntimeError, OSError, ValueError):
            pass
        time.sleep(1)
    raise TimeoutError(f"{what}: not within {timeout} s")


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        sample, value = line.rsplit(" ", 1)
        if all(f'{key}="{wanted}"' in sample for key, wanted in labels.items()):
            total += float(value)
    return total


def model_batches(url: str) -> dict[str, float]:
    """What adaptive batching formed at the server at `url`, from its /metrics: its model calls,
    the requests they scored, and the calls that scored more than one request."""
    metrics = requests.get(f"{url}/metrics", timeout=5).text
    calls = metric_value(metrics, "churnlab_inference_batch_requests_count")
    alone = metric_value(metrics, "churnlab_inference_batch_requests_bucket", le="1.0")
    return {
        "calls": calls,
        "requests": metric_value(metrics, "churnlab_inference_batch_requests_sum"),
        "shared": calls - alone,
    }
