"""The monolith under real gunicorn: workers, multiprocess metrics, the local runner."""

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import requests

from runtimes.http import metric_value, wait_ready
from runtimes.local import gunicorn
from runtimes.paths import ROOT
from runtimes.ports import free_port
from tests import raw_http

PROBLEM_JSON = "application/problem+json"

REQUESTS = 120


def test_metrics_count_every_request_across_all_workers(tmp_path, record_body):
    with gunicorn("monolith.app:create_app()", tmp_path, WEB_CONCURRENCY="3") as (url, _):
        for _ in range(REQUESTS):
            # A new connection each time, so the kernel spreads requests over the workers.
            response = requests.post(
                f"{url}/v1/predict", json=record_body, headers={"Connection": "close"}, timeout=5
            )
            assert response.status_code == 200
        worker_files = {p.name.split("_")[-1] for p in (tmp_path / "metrics").glob("*.db")}
        assert len(worker_files) >= 2, "requests should have reached several workers"
        for _ in range(3):  # every scrape, whichever worker answers it, sees the same totals
            metrics = requests.get(f"{url}/metrics", timeout=5).text
            assert (
                metric_value(
                    metrics, "churnlab_http_requests_total", route="/v1/predict", status="200"
                )
                == REQUESTS
            )
            assert metric_value(metrics, "churnlab_records_scored_total") == REQUESTS
            assert (
                metric_value(
                    metrics, "churnlab_http_request_duration_seconds_count", route="/v1/predict"
                )
                == REQUESTS
            )


def test_local_runner_starts_and_stops_the_monolith(tmp_path, record_body):
    port = free_port()
    env = os.environ | {
        "CHURNLAB_RUN_DIR": str(tmp_path / "run"),
        "MONOLITH_PORT": str(port),
        "CHURNLAB_PREDICTION_LOG_PATH": str(tmp_path / "log.sqlite3"),
    }
    runner = [sys.executable, "-m", "runtimes.local"]
    subprocess.run([*runner, "up", "monolith"], cwd=ROOT, env=env, check=True)
    pid = int((tmp_path / "run" / "monolith.pid").read_text())
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        response = requests.post(f"http://127.0.0.1:{port}/v1/predict", json=record_body, timeout=5)
        assert response.status_code == 200
    finally:
        subprocess.run([*runner, "down"], cwd=ROOT, env=env, check=True)
    assert not (tmp_path / "run" / "monolith.pid").exists()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_a_stopping_server_refuses_new_connections_and_still_answers_kept_ones(
    tmp_path, record_body
):
    """While gunicorn finishes what it has (a kept-alive connection keeps it for 2 s), the port
    must refuse: a connection the kernel completed there would wait unanswered until the worker
    exits, where a refused one is retried on another replica at once. (gunicorn's own worker
    refuses only once it has exited, when the kept connection is closed too.)"""
    with gunicorn("monolith.app:create_app()", tmp_path, WEB_CONCURRENCY="1") as (url, server):
        host, port = url.removeprefix("http://").split(":")
        kept = http.client.HTTPConnection(host, int(port), timeout=5)
        kept.request("GET", "/livez")
        first = kept.getresponse()
        assert first.status == 200
        first.read()
        assert kept.sock is not None  # kept alive
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection((host, int(port)), timeout=0.5).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        assert refused, "the port still took connections 5 s after SIGTERM"
        assert server.poll() is None, "the server should still be finishing its connections"
        kept.request("POST", "/v1/predict", body=json.dumps(record_body),
                     headers={"Content-Type": "application/json"})  # fmt: skip
        answer = kept.getresponse()
        assert answer.status == 200
        assert answer.getheader("Connection") == "close"


def test_gunicorn_answers_its_own_errors_as_problem_json(tmp_path):
    """What gunicorn refuses before the app sees it: past the edge (the gateway's calls, a
    local run's direct callers) it is problem+json too, never gunicorn's HTML page."""
    refused = {
        "bytes that are not HTTP": (b"\x00\x01garbage\r\n\r\n", 400),
        "a header line without a colon's name": (raw_http.get("/livez", b"Bad Header: x"), 400),
        "a request line over 8,190 bytes": (raw_http.get("/livez?" + "a" * 9_000), 414),
        "over 200 header lines": (
            raw_http.get("/livez", *(b"X-Line-%d: 1" % n for n in range(250))),
            431,
        ),
    }
    with gunicorn("monolith.app:create_app()", tmp_path, WEB_CONCURRENCY="1") as (url, _):
        for case, (request, status) in refused.items():
            answer = raw_http.exchange(url, request)
            assert (answer.status, answer.content_type) == (status, PROBLEM_JSON), case
            assert json.loads(answer.body)["status"] == status, case


def test_gunicorn_is_looser_than_the_edge(tmp_path):
    """Whatever the edge lets through (8,000 bytes of URL, 100 header lines, 16 KiB of
    headers, edge/haproxy.cfg) gunicorn takes: each limit is answered in one layer only."""
    at_the_edge_limits = [
        raw_http.get("/livez?" + "a" * (8_000 - len("/livez?")), method=b"OPTIONS"),
        raw_http.get("/livez", *(b"X-Line-%d: 1" % n for n in range(100))),
        raw_http.get("/livez", b"X-Big: " + b"a" * 16_000),
    ]
    with gunicorn("monolith.app:create_app()", tmp_path, WEB_CONCURRENCY="1") as (url, _):
        for request in at_the_edge_limits:
            assert raw_http.exchange(url, request).status == 200, request[:60]


def test_invented_methods_add_no_metric_series(tmp_path):
    """gunicorn takes any 3 to 20 capitals as a method: as metric labels they would grow the
    series (and each worker's files) without bound."""
    with gunicorn("monolith.app:create_app()", tmp_path, WEB_CONCURRENCY="1") as (url, _):
        for n in range(40):
            invented = f"INVENTED{n}".encode()
            assert raw_http.exchange(url, raw_http.get("/livez", method=invented)).status == 405
        metrics = requests.get(f"{url}/metrics", timeout=5).text
    methods = set(re.findall(r'churnlab_http_requests_total\{[^}]*method="([^"]+)"', metrics))
    assert methods == {"GET", "OTHER"}
    assert metric_value(metrics, "churnlab_http_requests_total", method="OTHER") == 40


def test_a_trickled_batch_is_cut_off_by_its_pace_and_a_brisk_one_is_not(tmp_path, record_body):
    """A batch body over what the edge buffers must arrive within the grace plus its length at
    the minimum rate (here 1 s + 300 KB at 150 KB/s = 3 s): sent a byte at a time it gets a
    408 problem+json by then and the server closes the connection; sent briskly,
    as large, it is answered."""
    body = json.dumps({"records": [record_body] * 600}).encode()  # about 300 KB
    assert len(body) > 256 * 1024
    head = (
        b"POST /v1/predict/batch HTTP/1.1\r\nHost: churnlab\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    pace = {"CHURNLAB_UPLOAD_GRACE_SECONDS": "1", "CHURNLAB_UPLOAD_MIN_BYTES_PER_SECOND": "150000"}
    with gunicorn("monolith.app:create_app()", tmp_path, WEB_CONCURRENCY="1", **pace) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head + body[:1000])
            started, answer = time.monotonic(), b""
            while time.monotonic() - started < 8 and not answer:
                try:
                    sock.sendall(body[1000:1001])
                except OSError:
                    break
                sock.settimeout(0.2)
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(65536)
            cut_after = time.monotonic() - started
            # The rest of the answer, then the end: the server closes the connection (no next
            # request is read from it); kept open, the read times out and the test fails.
            sock.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 408"), answer[:300]
        assert PROBLEM_JSON.encode() in rest
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["status"] == 408
        assert 2 <= cut_after <= 6, cut_after
        brisk = requests.post(
            f"{url}/v1/predict/batch", data=body, headers={"Content-Type": "application/json"},
            timeout=30,
        )  # fmt: skip
        assert brisk.status_code == 200, brisk.text[:300]
