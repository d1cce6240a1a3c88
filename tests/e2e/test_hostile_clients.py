"""Hostile clients against both deployments, through the edge, as users reach them.

Each attack runs while a normal client keeps predicting: that client must stay served (every
answer 200, none held behind an attacker, nineteen in twenty fast), and each attacker gets a
clear 4xx where one is due.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
import requests

from tests import raw_http

# A normal client held behind an attacker waits as long as the attacker is let hold: the edge
# gives a request's headers and body 5 s before its 408. Served beside one, it waits
# milliseconds, plus whatever a busy two-core CI machine adds: mostly up to about 110 ms, and
# once in a while a second (737 ms and 1,152 ms, one answer each of 142 and 62, on CI's machine
# on 2026-12-03). So no answer may take half a hold, and nineteen in twenty take under 500 ms.
HELD_MS = 2_500.0
FAST_MS = 500.0
FAST_SHARE = 0.95
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def url(any_deployment_url) -> str:
    return any_deployment_url


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors() -> None:
    """A thousand sockets need more than a default soft limit of 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"  # attacks only ever go to our own loopback ports
    return host, int(port)


@contextmanager
def normal_client(url: str, body: dict) -> Iterator[list[tuple[int, float]]]:
    """Another client, in its own process as it would be: predicts one record after another
    on one keep-alive connection until the block ends. The list it yields is filled, after the
    block, with the (status, milliseconds) of every answer."""
    context = multiprocessing.get_context("fork")
    done, started, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=_predict_until, args=(url, body, done, started, results))
    process.start()
    assert started.wait(30), "the normal client did not start"
    answers: list[tuple[int, float]] = []
    try:
        yield answers
    finally:
        done.set()
        answers += results.get(timeout=60)
        process.join(10)


def _predict_until(url: str, body: dict, done, started, results) -> None:
    answers = []
    with requests.Session() as session:
        session.post(f"{url}/v1/predict", json=body, timeout=10)  # a warm connection
        started.set()
        while not done.is_set() and len(answers) < 5_000:
            began = time.perf_counter()
            try:
                status = session.post(f"{url}/v1/predict", json=body, timeout=10).status_code
            except requests.RequestException:
                status = 0
            answers.append((status, 1000 * (time.perf_counter() - began)))
            time.sleep(0.01)
    results.put(answers)


def assert_served(answers: list[tuple[int, float]]) -> None:
    assert len(answers) >= 20, f"the normal client got only {len(answers)} answers"
    assert {status for status, _ in answers} == {200}, sorted({s for s, _ in answers})
    times = sorted(ms for _, ms in answers)
    assert times[-1] <= HELD_MS, f"held: slowest {times[-1]:.1f} ms of {len(times)} predictions"
    fast = sum(ms <= FAST_MS for ms in times) / len(times)
    assert fast >= FAST_SHARE, f"only {fast:.0%} of {len(times)} predictions within {FAST_MS} ms"


def read_response(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    return data


def test_slow_clients_get_408_and_never_hold_a_worker(url, record_body):
    """Headers, part of a body, then one byte every half second: the slowloris of bodies."""
    attackers = 16  # twice every worker thread of the monolith, or of the gateway
    answers: list[bytes] = [b""] * attackers

    def trickle(index: int) -> None:
        with socket.create_connection(address(url)) as sock:
            sock.sendall(
                b"POST /v1/predict HTTP/1.1\r\nHost: churnlab\r\n"
                b"Content-Type: application/json\r\nContent-Length: 900\r\n\r\n{"
            )
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                if reply := read_response(sock, 0.5):
                    answers[index] = reply
                    break

    threads = [threading.Thread(target=trickle, args=(n,)) for n in range(attackers)]
    with normal_client(url, record_body) as served:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert_served(served)
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:200]
        assert PROBLEM_JSON.encode() in head.lower()
        assert json.loads(body)["status"] == 408


def test_oversized_bodies_get_a_413_every_client_can_read(url, record_body):
    """20 MB bodies, two a second (40 MB/s, a third of a gigabit link). Unpaced, loopback has
    no line rate: the test would measure two shared cores copying gigabytes."""
    too_big = b'{"records": [' + b" " * 20_000_000 + b"]}"
    attempts = [
        ("requests", "/v1/predict/batch", too_big),
        # urllib sends the whole body without waiting for "100 Continue", and reads the answer
        # only once it has written everything: a server that answers and closes early breaks
        # its pipe instead.
        ("urllib", "/v1/predict/batch", too_big),
        ("urllib", "/v1/predict", b"{" + b" " * 70_000),
    ]
    refusals: list[tuple[str, int, str]] = []
    with normal_client(url, record_body) as served:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            client, path, body = attempts[len(refusals) % len(attempts)]
            refusals.append((client, *send_with(client, f"{url}{path}", body)))
            time.sleep(0.5)
    assert_served(served)
    assert {(status, kind) for _, status, kind in refusals} == {(413, PROBLEM_JSON)}
    assert {client for client, _, _ in refusals} == {"requests", "urllib"}


def send_with(client: str, url: str, body: bytes) -> tuple[int, str]:
    """(status, content type) of a JSON POST made with `requests` or with plain urllib."""
    headers = {"Content-Type": "application/json"}
    if client == "requests":
        answer = requests.post(url, data=body, headers=headers, timeout=30)
        return answer.status_code, answer.headers["Content-Type"]
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as ok:
            return ok.status, ok.headers["Content-Type"]
    except urllib.error.HTTPError as refused:
        problem = json.loads(refused.read())
        return problem["status"], refused.headers["Content-Type"]


def test_a_thousand_idle_keep_alive_connections_leave_others_served(url, record_body):
    idle = []
    try:
        for _ in range(1_000):
            sock = socket.create_connection(address(url))
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: churnlab\r\n\r\n")
            idle.append(sock)
        for sock in idle:
            sock.settimeout(10)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # Every one of them is now an idle keep-alive connection.
        with normal_client(url, record_body) as served:
            time.sleep(3)
    finally:
        for sock in idle:
            sock.close()
    assert_served(served)


def test_header_floods_get_431(url, record_body):
    many = {f"X-Flood-{n}": "y" for n in range(150)}
    huge = {"X-Flood": "z" * 20_000}
    flooded: list[requests.Response] = []

    def flood() -> None:
        deadline = time.monotonic() + 3
        with requests.Session() as session:
            while time.monotonic() < deadline:
                for headers in (many, huge):
                    flooded.append(
                        session.post(
                            f"{url}/v1/predict", json=record_body, headers=headers, timeout=10
                        )
                    )

    attackers = [threading.Thread(target=flood)]  # as fast as one client can send
    with normal_client(url, record_body) as served:
        for thread in attackers:
            thread.start()
        for thread in attackers:
            thread.join(60)
    assert_served(served)
    assert len(flooded) >= 100
    assert {response.status_code for response in flooded} == {431}
    assert {response.headers["Content-Type"] for response in flooded} == {PROBLEM_JSON}


def header_lines(count: int) -> list[bytes]:
    """`count` header lines in all, with the Host and Connection that raw_http.get sends."""
    return [b"X-Line-%d: 1" % n for n in range(count - 2)]


LIMITS = {
    # case: (request, the edge's status)
    "a URL over 8,000 bytes": (raw_http.get("/v1/model?" + "a" * 8_100), 414),
    "a 20,000-byte header": (raw_http.get("/v1/model", b"X-Big: " + b"a" * 20_000), 431),
    "101 header lines": (raw_http.get("/v1/model", *header_lines(101)), 431),
    "1,000 header lines": (raw_http.get("/v1/model", *header_lines(1_000)), 431),
    "an invented method": (raw_http.get("/v1/model", method=b"FROBNICATE"), 405),
    "TRACE": (raw_http.get("/v1/model", method=b"TRACE"), 405),
}
WITHIN_LIMITS = {
    "a URL of 8,000 bytes": raw_http.get("/v1/model?" + "a" * (8_000 - len("/v1/model?"))),
    "a 16,000-byte header": raw_http.get("/v1/model", b"X-Big: " + b"a" * 16_000),
    "100 header lines": raw_http.get("/v1/model", *header_lines(100)),
    "an Accept of 150 media types": raw_http.get(
        "/v1/model", b"Accept: " + b", ".join(b"application/x-type-%d" % n for n in range(150))
    ),
}
# HAProxy 2.6's HTTP/1 parser answers these with its built-in HTML page, whatever errorfile
# says (edge/haproxy.cfg). Pinned, so that the README's exception is rechecked on every run.
PARSER_ERRORS = {
    "bytes that are not HTTP": b"\x00\x01garbage\r\n\r\n",
    "a header line without a colon's name": raw_http.get("/v1/model", b"Bad Header: x"),
}


def test_every_limit_is_answered_as_problem_json(url):
    for case, (request, status) in LIMITS.items():
        answer = raw_http.exchange(url, request)
        assert (answer.status, answer.content_type) == (status, PROBLEM_JSON), case
        assert json.loads(answer.body)["status"] == status, case


def test_requests_within_the_limits_are_served(url):
    """Each limit is the edge's alone: what it lets through, nothing behind it refuses."""
    for case, request in WITHIN_LIMITS.items():
        answer = raw_http.exchange(url, request)
        assert (answer.status, answer.content_type) == (200, "application/json"), case


def test_only_the_parsers_own_errors_are_html(url):
    for case, request in PARSER_ERRORS.items():
        answer = raw_http.exchange(url, request)
        assert (answer.status, answer.content_type) == (400, "text/html"), case


UPLOAD_RECORDS = 600  # about 300 KB: over the 64 KiB the edge buffers, so it streams


def _trickle_batch(url: str, source: str, body: bytes, seconds: float) -> tuple[bytes, float]:
    """A batch whose body comes a byte every 0.2 s after its first kilobyte, from `source` (a
    loopback address of its own); the answer and when it came (b"" if none)."""
    sock = socket.socket()
    sock.bind((source, 0))
    started = time.monotonic()
    with sock:
        sock.connect(address(url))
        sock.sendall(
            b"POST /v1/predict/batch HTTP/1.1\r\nHost: churnlab\r\nContent-Type:"
            b" application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:1000]
        )
        while time.monotonic() - started < seconds:
            with suppress(OSError):  # cut off: the answer may still be there to read
                sock.sendall(body[1000:1001])
            if reply := read_response(sock, 0.2):
                return reply, time.monotonic() - started
    return b"", time.monotonic() - started


@pytest.fixture
def callers_apart(request) -> bool:
    """Whether the edge sees each local caller's own address: the local runtime's does; in
    Compose, Docker's port proxy makes every local caller the bridge's gateway."""
    return request.node.callspec.params["any_deployment_url"].startswith("local-")


def test_slow_batch_uploads_are_cut_off_and_leave_other_batches_served(
    url, record_body, callers_apart
):
    """Four slow uploaders from one address of their own, against a client sending large
    batches from another: the edge lets that address have one upload under way (429 for the
    rest), the app cuts the one off by its pace (a 408 within 5 s plus 300 KB at 256 KiB/s),
    and every one of the client's batches is answered 200 meanwhile. (The local runtime sees
    each caller's address; in Compose every local caller is one, docs/security.md.)"""
    body = json.dumps({"records": [record_body] * UPLOAD_RECORDS}).encode()
    source = "127.0.0.2" if callers_apart else "127.0.0.1"
    outcomes: list[tuple[bytes, float]] = []
    attackers = [
        threading.Thread(target=lambda: outcomes.append(_trickle_batch(url, source, body, 20)))
        for _ in range(4)
    ]
    for thread in attackers:
        thread.start()
    batches: list[int] = []
    if callers_apart:
        deadline = time.monotonic() + 8
        with requests.Session() as session:
            while time.monotonic() < deadline:
                answer = session.post(
                    f"{url}/v1/predict/batch", data=body, timeout=30,
                    headers={"Content-Type": "application/json"},
                )  # fmt: skip
                batches.append(answer.status_code)
    for thread in attackers:
        thread.join(40)
    statuses = sorted(int(reply.split(b" ", 2)[1]) for reply, _ in outcomes if reply)
    assert len(statuses) == 4, outcomes  # every uploader was answered
    assert statuses.count(408) >= 1, statuses
    assert set(statuses) <= {408, 429}, statuses
    for reply, after in outcomes:
        assert PROBLEM_JSON.encode() in reply.lower()
        if b" 408 " in reply.split(b"\r\n", 1)[0]:
            assert after <= 5 + len(body) / (256 * 1024) + 2, after  # the pace, and some slack
    if callers_apart:
        assert len(batches) >= 3, batches
        assert set(batches) == {200}, batches
