"""Requests as raw bytes, for what an HTTP client library would refuse to send (a bad request
line, an invented method, a header line without a colon), and the answer as it came."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def exchange(url: str, request: bytes, seconds: float = 10.0) -> Answer:
    """Send `request` on a new connection to `url` (loopback only) and read until it closes;
    over TLS for an https URL (the Swarm's edge), checked as Python checks by default (the
    tests trust the cluster's CA there: SSL_CERT_FILE)."""
    scheme, _, place = url.partition("://")
    host, port = place.split(":")
    assert host == "127.0.0.1"  # raw requests only ever go to our own loopback ports
    with socket.create_connection((host, int(port)), timeout=seconds) as plain:
        sock = (
            ssl.create_default_context().wrap_socket(plain, server_hostname=host)
            if scheme == "https"
            else plain
        )
        sock.sendall(request)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        pytest.fail(f"not an HTTP answer: {data[:200]!r}")
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    content_type = {name.lower(): value.strip() for name, value in fields.items()}.get(
        "content-type", ""
    )
    return Answer(int(lines[0].split(" ")[1]), content_type, body)


def get(path: str, *header_lines: bytes, method: bytes = b"GET") -> bytes:
    """A request for `path` with these header lines, on a connection that closes after it."""
    lines = [b"Host: churnlab", b"Connection: close", *header_lines]
    return method + b" " + path.encode() + b" HTTP/1.1\r\n" + b"\r\n".join(lines) + b"\r\n\r\n"
