"""Fakes for the gateway's HTTP adapters: a transport scripted per address, and a resolver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
import urllib3
from urllib3 import HTTPHeaderDict


@dataclass
class FakeResponse:
    status: int
    data: bytes
    headers: HTTPHeaderDict = field(default_factory=HTTPHeaderDict)


def answer(
    status: int = 200,
    body: object = None,
    content_type: str = "application/json",
    **more_headers: str,
) -> Callable[[str, str], FakeResponse]:
    data = orjson.dumps(body if body is not None else {})
    headers = HTTPHeaderDict({"Content-Type": content_type, **more_headers})
    return lambda method, path: FakeResponse(status, data, headers)


def refuse(method: str, path: str) -> FakeResponse:
    raise urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]


def time_out_connecting(method: str, path: str) -> FakeResponse:
    raise urllib3.exceptions.ConnectTimeoutError(None, "Connection timed out")


def drop(method: str, path: str) -> FakeResponse:
    """The connection reset before an answer (a replica shutting down, or dying)."""
    raise urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())


def cut_off(method: str, path: str) -> FakeResponse:
    """An answer that began and broke off: the stage did the work."""
    from http.client import IncompleteRead

    raise urllib3.exceptions.ProtocolError("Connection broken", IncompleteRead(b"{", 100))


def close_idle(method: str, path: str) -> FakeResponse:
    """A pooled connection the stage closed without answering (a replica shutting down)."""
    from http.client import RemoteDisconnected

    cause = RemoteDisconnected("Remote end closed connection without response")
    raise urllib3.exceptions.ProtocolError("Connection aborted.", cause)


def hang(method: str, path: str) -> FakeResponse:
    raise urllib3.exceptions.ReadTimeoutError(None, path, "Read timed out")  # type: ignore[arg-type]


@dataclass
class FakeTransport:
    """Each address behaves as scripted (default: 200 with an empty object); every call is kept."""

    behaviour: dict[str, Callable[[str, str], FakeResponse]] = field(default_factory=dict)
    calls: list[dict] = field(default_factory=list)

    def request(self, method, url, *, body=None, headers=None, timeout=None):
        parts = urlsplit(url)
        address = f"{parts.scheme}://{parts.netloc}"
        self.calls.append(
            {
                "method": method,
                "address": address,
                "path": parts.path,
                "headers": headers or {},
                "timeout": timeout,
                "body": body,
            }
        )
        return self.behaviour.get(address, answer())(method, parts.path)

    def calls_to(self, path: str) -> list[dict]:
        return [call for call in self.calls if call["path"] == path]


class FakeResolver:
    """Names resolve to whatever the test says, as a Compose service's replicas would."""

    def __init__(self, **hosts: list[str]) -> None:
        self.hosts = hosts

    def __call__(self, host: str, port: int) -> list[str]:
        return list(self.hosts.get(host, []))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def taking(
    clock: FakeClock, seconds: float, then: Callable[[str, str], FakeResponse]
) -> Callable[[str, str], FakeResponse]:
    """Behaves as `then`, after `seconds` have passed on the fake clock."""

    def behave(method: str, path: str) -> FakeResponse:
        clock.now += seconds
        return then(method, path)

    return behave
