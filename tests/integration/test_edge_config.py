"""edge/haproxy.cfg alone, in front of an upstream that echoes what reaches it: the promises
about callers that no answer of the app's could show (the key never gets past the edge, keys
are read at start, an empty key file lets no one in, the counters hold no key, an IPv6 caller
is counted by its /64, a limit is a number, one address holds at most its share of the
uploads under way, TLS and nothing else where a certificate is given)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from runtimes.http import wait_for
from runtimes.paths import ROOT
from runtimes.ports import free_port

KEY = "k-" + "a" * 40


class Echo(BaseHTTPRequestHandler):
    """200 with the request's headers as JSON: what the app behind the edge would see."""

    def do_GET(self) -> None:
        body = json.dumps({name.lower(): value for name, value in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:
        """Reads the whole body first, as the app does, then answers as to a GET."""
        self.rfile.read(int(self.headers["Content-Length"]))
        self.do_GET()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


@contextmanager
def edge(
    upstream: str, tmp_path: Path, bind: str = "127.0.0.1", trust: Path | bool = True,
    **settings: str,
):  # fmt: skip
    """HAProxy on edge/haproxy.cfg with `settings`, once its one replica is up: its URL and
    a function that sends one command to its worker's CLI (through the master socket). With
    EDGE_TLS_CERT, the URL is https, and `trust` is the CA its certificate is checked by."""
    port, master = free_port(), tmp_path / "master.sock"
    environment = os.environ | {
        "EDGE_BIND": f"{bind}:{port}",
        "EDGE_ADMIN_BIND": f"127.0.0.1:{free_port()}",
        "EDGE_UPSTREAM": upstream,
        "EDGE_DIR": str(ROOT / "edge"),
        **settings,
    }
    command = ["haproxy", "-W", "-db", "-S", str(master), "-f", str(ROOT / "edge/haproxy.cfg")]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    host = f"[{bind}]" if ":" in bind else bind
    url = f"{'https' if settings.get('EDGE_TLS_CERT') else 'http'}://{host}:{port}"

    def cli(line: str) -> str:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(str(master))
            connection.sendall(f"@1 {line}; quit\n".encode())
            return b"".join(iter(lambda: connection.recv(65536), b"")).decode()

    try:
        # The replica is up once a probe (never counted, never keyed) gets the echo's 200.
        wait_for(lambda: requests.get(f"{url}/readyz", timeout=2, verify=trust).ok, "the edge", 60)
        yield url, cli
    finally:
        process.terminate()
        process.wait(timeout=30)


def keys_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keys"
    path.write_text(text)
    return path


def test_the_key_never_reaches_the_app(upstream, tmp_path):
    with edge(upstream, tmp_path, EDGE_API_KEYS_FILE=str(keys_file(tmp_path, KEY))) as (url, _):
        seen = requests.get(f"{url}/v1/model", headers={"X-API-Key": KEY}, timeout=5)
    assert seen.status_code == 200
    assert "x-api-key" not in seen.json()
    assert KEY not in seen.text


def test_keys_are_read_at_start(upstream, tmp_path):
    """A key added to the file while the edge runs is not taken: keys change on a restart
    (docs/security.md), never half-way through a file's rewrite."""
    keys = keys_file(tmp_path, KEY + "\n")
    with edge(upstream, tmp_path, EDGE_API_KEYS_FILE=str(keys)) as (url, _):
        keys.write_text(KEY + "\nk-added\n")
        added = requests.get(f"{url}/v1/model", headers={"X-API-Key": "k-added"}, timeout=5)
        kept = requests.get(f"{url}/v1/model", headers={"X-API-Key": KEY}, timeout=5)
    assert (added.status_code, kept.status_code) == (401, 200)


@pytest.mark.parametrize("text", ["", "\n\n", "# every key revoked\n"])
def test_an_emptied_key_file_lets_no_one_in(upstream, tmp_path, text):
    """Keys asked for and none given means no caller, not every caller: an empty header, or
    one holding the comment, matches nothing."""
    with edge(upstream, tmp_path, EDGE_API_KEYS_FILE=str(keys_file(tmp_path, text))) as (url, _):
        for key in (None, "", "# every key revoked"):
            headers = {} if key is None else {"X-API-Key": key}
            answer = requests.get(f"{url}/v1/model", headers=headers, timeout=5)
            assert answer.status_code == 401, (key, answer.text)
            assert answer.headers["Content-Type"] == "application/problem+json"


def test_the_key_counter_holds_hashes_not_keys(upstream, tmp_path):
    with edge(upstream, tmp_path, EDGE_API_KEYS_FILE=str(keys_file(tmp_path, KEY))) as (url, cli):
        assert requests.get(f"{url}/v1/model", headers={"X-API-Key": KEY}, timeout=5).ok
        table = cli("show table per_key")
    entries = [line for line in table.splitlines() if line.startswith("0x")]
    assert len(entries) == 1, table
    assert f"key={hashlib.sha256(KEY.encode()).hexdigest().upper()} " in entries[0], entries
    assert KEY not in table
    assert KEY.encode().hex() not in table.lower()


def test_an_ipv6_caller_is_counted_by_its_64_and_an_ipv4_one_by_its_address(upstream, tmp_path):
    """One host is given a /64: counting each of its addresses apart would let it take 2^64
    shares of the limit."""
    with edge(upstream, tmp_path, bind="::1") as (url, cli):
        assert requests.get(f"{url}/v1/model", timeout=5).ok
        ipv6 = cli("show table per_source")
    with edge(upstream, tmp_path) as (url, cli):
        assert requests.get(f"{url}/v1/model", timeout=5).ok
        ipv4 = cli("show table per_source")
    assert " key=:: " in ipv6, ipv6
    assert "::1" not in ipv6, ipv6
    assert " key=::ffff:127.0.0.1 " in ipv4, ipv4


@pytest.mark.parametrize("limit", ["0", "00"])
def test_a_limit_of_zero_however_written_is_no_limit(upstream, tmp_path, limit):
    with edge(upstream, tmp_path, EDGE_RATE_LIMIT_PER_SOURCE=limit) as (url, cli):
        answers = [requests.get(f"{url}/v1/model", timeout=5).status_code for _ in range(20)]
        table = cli("show table per_source")
    assert answers == [200] * 20
    assert "key=" not in table, table


def test_a_limit_that_is_not_a_number_stops_the_edge_from_starting(upstream, tmp_path):
    environment = os.environ | {
        "EDGE_DIR": str(ROOT / "edge"),
        "EDGE_RATE_LIMIT_PER_KEY": "lots",
    }
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(ROOT / "edge/haproxy.cfg")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode != 0
    assert "failed to parse 'lots' as type 'integer'" in checked.stderr


@pytest.fixture(scope="module")
def certified(tmp_path_factory) -> Path:
    """A CA and the edge's certificate for 127.0.0.1, as `make cluster-up` makes them."""
    from runtimes import cluster_secrets

    directory = tmp_path_factory.mktemp("tls")
    cluster_secrets.authority(directory)
    cluster_secrets.sign(directory, "edge", cluster_secrets.subject_names(["127.0.0.1"]))
    return directory


def test_with_a_certificate_the_edge_speaks_tls_and_nothing_else(upstream, tmp_path, certified):
    """HTTPS that a client checks against the CA; plain HTTP on the same port gets no answer,
    and a client that does not trust the CA refuses the server."""
    pem = tmp_path / "edge.pem"  # the certificate and its key in one file, as HAProxy takes it
    pem.write_text((certified / "edge.crt").read_text() + (certified / "edge.key").read_text())
    settings = {"EDGE_TLS_CERT": str(pem)}
    with edge(upstream, tmp_path, trust=certified / "ca.crt", **settings) as (url, _):
        answer = requests.get(f"{url}/v1/model", timeout=5, verify=certified / "ca.crt")
        assert answer.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/v1/model", timeout=5)  # the system's CAs do not know it
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https", "http") + "/v1/model", timeout=5)


UPLOAD = 300_000  # over the 64 KiB the edge buffers whole: streamed


def start_upload(url: str, key: str = "") -> socket.socket:
    """A batch whose body stops half-way, as a slow uploader's does: under way until closed."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    keyed = b"X-API-Key: %s\r\n" % key.encode() if key else b""
    sock.sendall(
        b"POST /v1/predict/batch HTTP/1.1\r\nHost: churnlab\r\nContent-Type: application/json"
        b"\r\n%sContent-Length: %d\r\n\r\n" % (keyed, UPLOAD) + b" " * (UPLOAD // 2)
    )
    return sock


def post_upload(url: str, key: str = "") -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    return requests.post(f"{url}/v1/predict/batch", data=b" " * UPLOAD, headers=headers, timeout=10)


def test_one_address_has_one_upload_under_way_and_no_more(upstream, tmp_path):
    """The bulk backend lets two streamed bodies in per replica: a caller trickling one cannot
    take the other (429 problem+json, with when to retry); once its upload ends, the next is
    let in. Uploads of other addresses are counted apart (the table's key)."""
    with edge(upstream, tmp_path) as (url, cli):
        held = start_upload(url)
        try:
            wait_for(lambda: "conn_cur=1" in cli("show table uploads_per_source"), "counted", 10)
            refused = post_upload(url)
        finally:
            held.close()
        assert refused.status_code == 429, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "1"
        wait_for(lambda: "conn_cur=0" in cli("show table uploads_per_source"), "released", 10)
        assert post_upload(url).status_code == 200
        assert requests.get(f"{url}/v1/model", timeout=5).ok  # small calls never counted


def test_uploads_per_source_zero_is_no_cap(upstream, tmp_path):
    with edge(upstream, tmp_path, EDGE_UPLOADS_PER_SOURCE="0") as (url, cli):
        held = start_upload(url)
        try:
            time.sleep(0.5)
            assert post_upload(url).status_code == 200
        finally:
            held.close()
        assert "key=" not in cli("show table uploads_per_source")


def test_where_keys_are_asked_each_key_is_the_caller_whose_uploads_are_counted(upstream, tmp_path):
    """Behind one address (a proxy, a port-forward), callers are told apart by their keys: one
    key's second upload is refused while another key's goes in."""
    other = "k-" + "c" * 40
    keys = keys_file(tmp_path, f"{KEY}\n{other}\n")
    with edge(upstream, tmp_path, EDGE_API_KEYS_FILE=str(keys)) as (url, cli):
        held = start_upload(url, KEY)
        try:
            wait_for(lambda: "conn_cur=1" in cli("show table uploads_per_key"), "counted", 10)
            assert post_upload(url, KEY).status_code == 429
            assert post_upload(url, other).status_code == 200
        finally:
            held.close()
        assert "key=" not in cli("show table uploads_per_source")


def test_server_timing_gives_the_edge_s_part_or_says_the_edge_answered(upstream, tmp_path):
    """Beside the app's own metrics: the edge's queue, connect and wait for the answer where a
    server answered; where the edge answered itself (a refused method, a server that cannot be
    reached) no duration it does not have, never a -1."""
    from churnlab.server_timing import durations

    with edge(upstream, tmp_path) as (url, _):
        served = requests.get(f"{url}/v1/model", timeout=5).headers["Server-Timing"]
        refused = requests.request("TRACE", f"{url}/v1/model", timeout=5)
    assert set(durations(served)) == {"edge-queue", "edge-connect", "edge-upstream"}
    assert all(milliseconds >= 0 for milliseconds in durations(served).values())
    assert refused.status_code == 405
    assert refused.headers["Server-Timing"] == 'edge;desc="answered by the edge"'
    gone = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=gone.serve_forever, daemon=True).start()
    with edge(f"127.0.0.1:{gone.server_port}", tmp_path) as (url, _):
        gone.shutdown()
        gone.server_close()
        unreachable = requests.get(f"{url}/v1/model", timeout=10)
    assert unreachable.status_code == 503
    assert unreachable.headers["Server-Timing"] == 'edge;desc="answered by the edge"'


def test_a_caller_s_trace_context_stays_outside(upstream, tmp_path):
    """A public caller does not choose what is traced, nor join its calls into one trace."""
    sent = {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "tracestate": "vendor=x",
        "baggage": "user=someone",
    }
    with edge(upstream, tmp_path) as (url, _):
        seen = requests.get(f"{url}/v1/model", headers=sent, timeout=5).json()
    assert not set(sent) & set(seen)
