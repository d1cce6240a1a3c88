"""The images' healthcheck script (docker/healthcheck.sh), run here against a server of the
test's own: healthy only on a 200 from the path it is given, on the port of CHURNLAB_BIND."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runtimes.ports import free_port

SCRIPT = Path(__file__).parents[2] / "docker" / "healthcheck.sh"
STATUS_BY_PATH = {"/livez": 200, "/readyz": 503}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/no-reason-phrase":  # allowed by RFC 9112: "200" and nothing after
            self.wfile.write(b"HTTP/1.0 200\r\nContent-Length: 0\r\n\r\n")
            return
        if self.path == "/slow":
            time.sleep(4)
        self.send_response(STATUS_BY_PATH.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def healthy(port: int, path: str) -> bool:
    environment = {"CHURNLAB_BIND": f"0.0.0.0:{port}", "CHURNLAB_HEALTHCHECK_PATH": path}
    return subprocess.run([SCRIPT], env=environment, timeout=10).returncode == 0


@pytest.mark.parametrize("path", ["/livez", "/no-reason-phrase"])
def test_a_200_is_healthy(port, path):
    assert healthy(port, path)


def test_a_server_that_does_not_answer_within_2_s_is_not(port):
    started = time.monotonic()
    assert not healthy(port, "/slow")
    assert time.monotonic() - started < 3.5


@pytest.mark.parametrize("path", ["/readyz", "/missing"])
def test_any_other_status_is_not(port, path):
    assert not healthy(port, path)


def test_no_server_is_not():
    assert not healthy(int(free_port()), "/livez")
