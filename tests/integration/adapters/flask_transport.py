"""A transport for StageClient that hands its calls to a Flask app's test client: the gateway's
HTTP adapters against a real stage service, with no port."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask


@dataclass
class Answer:
    status: int
    data: bytes
    headers: dict[str, str]


@dataclass
class FlaskTransport:
    app: Flask
    down: bool = False  # connections refused, as when the service is stopped
    hung: bool = False  # the call sent, no answer in time, as when the service is paused
    calls: list[str] = field(default_factory=list)

    def request(self, method, url, *, body=None, headers=None, timeout=None) -> Answer:
        import urllib3

        path = urlsplit(url).path
        self.calls.append(f"{method} {path}")
        if self.down:
            raise urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
        if self.hung:
            raise urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out")  # type: ignore[arg-type]
        answer = self.app.test_client().open(path, method=method, data=body, headers=headers)
        return Answer(answer.status_code, answer.get_data(), dict(answer.headers))
