"""gunicorn's gthread worker, except that a stopping worker stops taking connections at once.

On SIGTERM gunicorn's master closes its listening socket, but each worker keeps its own copy
open until its in-flight requests are done. Meanwhile the kernel still completes connections
to the port and queues them for a worker that no longer accepts: a client's request waits,
unanswered, until that worker exits. A rollout sent requests there (the gateway gave up on
them at its 1 s read timeout). Closed at once, the port refuses instead, which a caller retries
on another replica at once (a refused connection never reached this one).

Its own errors (a request line or headers it cannot parse, or over its limits) are answered
as problem+json, as every other layer's are, instead of gunicorn's HTML page.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

PROBLEM_JSON = "application/problem+json"


class _ErrorPage:
    """Stands in for the client's socket while gunicorn writes its HTML error page: the status
    line it chose is kept, and the page itself is never sent."""

    def __init__(self) -> None:
        self.written = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.written += data

    def status(self) -> tuple[int, str]:
        """(status, reason) from gunicorn's status line, e.g. b"HTTP/1.1 414 URI Too Long"."""
        _, code, reason = self.written.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        return int(code), reason


def problem_answer(status: int, title: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer carrying an RFC 9457 problem, after which the connection ends."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if status >= 500:
        body["kept"] = "unknown"
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode("latin-1") + payload


class StoppingThreadWorker(ThreadWorker):
    def is_parent_alive(self) -> bool:
        # A worker whose master died stops too: its loop then ends with `alive` still set.
        alive = super().is_parent_alive()
        if not alive:
            self.alive = False
        return alive

    def set_accept_enabled(self, enabled: bool) -> None:
        # Called with False both when the worker is full (it accepts again later) and when it
        # begins to stop: only then are its listeners closed.
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()

    def handle_error(self, req, client: socket.socket, addr, exc: BaseException) -> None:
        # gunicorn chooses the status, logs and counts the error; only the page is replaced.
        page = _ErrorPage()
        super().handle_error(req, page, addr, exc)  # type: ignore[arg-type]
        if not page.written:
            return
        status, title = page.status()
        detail = str(exc) if status < 500 else "the server failed to handle the request"
        try:
            util.write_nonblock(client, problem_answer(status, title, detail))
        except OSError:
            self.log.debug("Failed to send error message.")
