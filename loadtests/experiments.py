"""The three experiments behind `make compare`, each on a running Compose deployment.

Traffic comes from Locust (loadtests/locustfile.py) with its exact per-request log, so every
figure is computed from what clients saw: one row per request, with its time, route, status,
latency and request id.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from churnlab.domain.ingest import record_ids
from loadtests.deployments import ROOT, ComposeDeployment
from loadtests.faults import DockerFaults

P99_BOUND_MS = 250.0
READINESS_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Request:
    time: float
    route: str
    ok: bool
    ms: float
    request_id: str
    records: int


def run_locust(
    url: str,
    log: Path,
    *,
    shape: str,
    users: int,
    seconds: int,
    step_users: int = 4,
    step_seconds: int = 5,
) -> list[Request]:
    """A bounded headless Locust run against a loopback URL; its per-request log, parsed."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("load is only ever sent to loopback")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "CHURNLAB_SHAPE": shape,
        "CHURNLAB_USERS": str(users),
        "CHURNLAB_SECONDS": str(seconds),
        "CHURNLAB_STEP_USERS": str(step_users),
        "CHURNLAB_STEP_SECONDS": str(step_seconds),
        "CHURNLAB_REQUEST_LOG": str(log),
    }
    subprocess.run(
        [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            "loadtests/locustfile.py",
            "--headless",
            "--host",
            url,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--csv",
            str(log.with_suffix("")),
            "--csv-full-history",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        timeout=seconds + 60,
    )
    with log.open(newline="") as stream:
        return [
            Request(
                float(row["time"]),
                row["route"],
                row["ok"] == "1",
                float(row["ms"]),
                row["request_id"],
                int(row["records"]),
            )
            for row in csv.DictReader(stream)
        ]


def p99(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[98], 1)


def predictions(requests_: list[Request]) -> list[Request]:
    return [r for r in requests_ if r.route.startswith("/v1/predict")]


# --- 1. throughput / latency curve ------------------------------------------------------------


def curve(
    deployment: ComposeDeployment, out: Path, *, peak: int, step_users: int, step_seconds: int
) -> dict:
    """Users stepped up until saturation: per step throughput and p99; the best step within the
    p99 bound; CPU-seconds per 1,000 predicted records; memory of every container."""
    seconds = (peak // step_users) * step_seconds
    cpu_before = deployment.cpu_seconds()
    log = run_locust(
        deployment.url,
        out / "curve.csv",
        shape="ramp",
        users=peak,
        seconds=seconds,
        step_users=step_users,
        step_seconds=step_seconds,
    )
    cpu_used = deployment.cpu_seconds() - cpu_before
    memory = deployment.memory_bytes()
    start = min(r.time for r in log)
    steps = []
    for index in range(seconds // step_seconds):
        # Skip the first second of a step: users are still being added.
        low, high = start + index * step_seconds + 1, start + (index + 1) * step_seconds
        window = [r for r in predictions(log) if low <= r.time < high]
        ok = [r for r in window if r.ok]
        steps.append(
            {
                "users": min((index + 1) * step_users, peak),
                "requests_per_second": round(len(ok) / (high - low), 1),
                "p99_ms": p99([r.ms for r in window]),
                "failure_rate": round(1 - len(ok) / len(window), 4) if window else None,
            }
        )
    within = [
        s
        for s in steps
        if s["p99_ms"] is not None and s["p99_ms"] <= P99_BOUND_MS and not s["failure_rate"]
    ]
    records = sum(r.records for r in predictions(log) if r.ok)
    return {
        "steps": steps,
        "p99_bound_ms": P99_BOUND_MS,
        "max_sustainable_rps": max((s["requests_per_second"] for s in within), default=0.0),
        "cpu_seconds_per_1000_predictions": round(1000 * cpu_used / max(records, 1), 3),
        "memory_mb": round(memory / 1e6, 1),
        "containers": len(deployment.containers()),
    }


# --- 2. scaling -------------------------------------------------------------------------------


def steady_throughput(
    deployment: ComposeDeployment, log: Path, *, users: int, seconds: int
) -> dict:
    requests_ = predictions(
        run_locust(deployment.url, log, shape="steady", users=users, seconds=seconds)
    )
    first = min(r.time for r in requests_)
    settled = [r for r in requests_ if r.time >= first + 2]
    span = max(r.time for r in settled) - min(r.time for r in settled)
    return {
        "requests_per_second": round(sum(r.ok for r in settled) / span, 1),
        "p99_ms": p99([r.ms for r in settled]),
        "failure_rate": round(1 - sum(r.ok for r in settled) / len(settled), 4),
    }


# --- 3. fault isolation -----------------------------------------------------------------------


@dataclass
class ReadinessWatch:
    """Polls /readyz through the fault, to time when the system noticed and when it was back."""

    url: str
    samples: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ReadinessWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                body = requests.get(f"{self.url}/readyz", timeout=1).json()
                state = body.get("status", "unknown")
            except (requests.RequestException, ValueError):
                state = "unreachable"
            self.samples.append((time.time(), state))
            self._stop.wait(READINESS_POLL_SECONDS)


def fault_run(
    deployment: ComposeDeployment,
    out: Path,
    *,
    component: str,
    container: str,
    fault: str,
    users: int,
    before: float,
    during: float,
    after: float,
) -> dict:
    """Steady load; the fault applied for `during` seconds; what clients and the log saw."""
    seconds = int(before + during + after)
    window: dict[str, float] = {}
    log_path = out / f"fault-{component}-{fault}.csv"

    def inject() -> None:
        time.sleep(before)
        window["start"] = time.time()
        try:
            with DockerFaults().fault(container, fault):
                time.sleep(during)
                window["end"] = time.time()  # the undoing starts here: recovery counts from it
        except Exception as error:  # reported in the results rather than ending the experiment
            window["error"] = f"{type(error).__name__}: {error}"

    injector = threading.Thread(target=inject)
    with ReadinessWatch(deployment.url) as watch:
        injector.start()
        log = run_locust(deployment.url, log_path, shape="steady", users=users, seconds=seconds)
        injector.join()
        time.sleep(2)
    if "error" in window or "end" not in window:
        return {
            "component": component,
            "fault": fault,
            "error": window.get("error", "the fault was not applied"),
        }
    lost = records_lost(deployment, log)
    return analyse_fault(
        log,
        watch.samples,
        window,
        component=component,
        fault=fault,
        lost=lost,
        timeline_start=min(r.time for r in log),
    )


def records_lost(deployment: ComposeDeployment, log: list[Request], wait: float = 30) -> int:
    """Accepted records (200s) missing from the prediction log once any spool has drained."""
    accepted = set()
    for r in predictions(log):
        if r.ok:
            accepted.update(record_ids(r.request_id, r.records))
    deadline = time.monotonic() + wait
    while True:
        missing = accepted - deployment.logged_request_ids()
        if not missing or time.monotonic() > deadline:
            return len(missing)
        time.sleep(1)


def analyse_fault(
    log: list[Request],
    readiness: list[tuple[float, str]],
    window: dict,
    *,
    component: str,
    fault: str,
    lost: int,
    timeline_start: float,
) -> dict:
    start, end = window["start"], window["end"]
    during = [r for r in log if start <= r.time < end]
    routes = {}
    for route in sorted({r.route for r in log}):
        in_fault = [r for r in during if r.route == route]
        routes[route] = {
            "success_rate": round(sum(r.ok for r in in_fault) / len(in_fault), 4)
            if in_fault
            else None,
            "p99_ms": p99([r.ms for r in in_fault]),
        }
    noticed = [t for t, state in readiness if t >= start and state != "ready"]
    detect = round(noticed[0] - start, 2) if noticed else None
    return {
        "component": component,
        "fault": fault,
        "routes": routes,
        "time_to_detect_s": detect,
        "time_to_recover_s": time_to_recover(log, readiness, end),
        "records_lost": lost,
        "timeline": timeline(log, timeline_start),
        "fault_window_s": [round(start - timeline_start, 2), round(end - timeline_start, 2)],
    }


def time_to_recover(
    log: list[Request], readiness: list[tuple[float, str]], end: float
) -> float | None:
    """From the fault's undoing until requests are answered again and /readyz says ready.

    "Answered" is the first success, sent after the last failure, *completing*: a restarted
    process accepts connections at once and may hold them while it loads its model, so the
    last failure alone would flatter it.
    """
    last_failure = max((r.time for r in log if r.time >= end and not r.ok), default=end)
    answered = [r.time + r.ms / 1000 for r in log if r.ok and r.time >= last_failure]
    if not answered or (readiness and readiness[-1][1] != "ready"):
        return None  # never came back while we watched
    not_ready = [t for t, state in readiness if t >= end and state != "ready"]
    probe_back = min(
        (t for t, state in readiness if t > max(not_ready, default=end) and state == "ready"),
        default=end,
    )
    return round(max(min(answered), probe_back) - end, 2)


def timeline(log: list[Request], start: float) -> dict[str, list[int]]:
    """Successful and failed requests per second, for the plots."""
    length = int(max(r.time for r in log) - start) + 1
    ok, failed = [0] * length, [0] * length
    for r in log:
        second = int(r.time - start)
        (ok if r.ok else failed)[second] += 1
    return {"ok": ok, "failed": failed}
