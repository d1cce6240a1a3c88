"""Reading a JSON request body into a pydantic model, with the right 4xx for each way it fails."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestTimeout, UnsupportedMediaType

from churnlab.tracing import span

Model = TypeVar("Model", bound=BaseModel)

# pydantic reports unparsable JSON with these error types: a 400, not a 422.
MALFORMED_JSON_ERRORS = frozenset({"json_invalid", "json_type"})
# What the edge buffers whole before a worker sees it (edge/haproxy.cfg, `streamed_body`):
# a body over this, or of unknown length, arrives while a worker waits for it.
EDGE_BUFFERED_BYTES = 64 * 1024
UPLOAD_PACE = "churnlab.upload_pace"  # app.config: the UploadPace the factory set


@dataclass(frozen=True)
class UploadPace:
    """How fast a streamed body must arrive (Settings.upload_*)."""

    grace_seconds: float
    min_bytes_per_second: float

    def seconds_for(self, length: int) -> float:
        return self.grace_seconds + length / self.min_bytes_per_second


class UploadTooSlowError(RequestTimeout):
    """408; the socket's read side is shut, so the connection ends after the answer (gunicorn
    reads no next request from it) and the rest of the body is never read."""


def read_json(model: type[Model], max_bytes: int, untyped_is_json: bool = False) -> Model:
    """Parse and validate in one pass (pydantic-core's JSON parser), after checking the envelope.

    415 unless the body is declared JSON (or, with `untyped_is_json`, declares no type at all,
    as the Open Inference Protocol's clients send it), 413 past `max_bytes`, 400 when empty or
    not JSON, 422 (via ValidationError) when it is JSON but not a valid `model`, 408 when a
    streamed body arrives slower than the app's UploadPace allows.
    """
    if not (request.is_json or (untyped_is_json and not request.mimetype)):
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'no content type'}"
        )
    request.max_content_length = max_bytes
    raw = _paced_body(max_bytes)
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        with span("decode and validate", bytes=len(raw)):
            return model.model_validate_json(raw)
    except ValidationError as error:
        malformed = [e for e in error.errors() if e["type"] in MALFORMED_JSON_ERRORS]
        if malformed:
            raise BadRequest(f"the body is not valid JSON: {malformed[0]['msg']}") from None
        raise


def _paced_body(max_bytes: int) -> bytes:
    """The body; one that streams in (over EDGE_BUFFERED_BYTES, or of unknown length) must be
    whole by its pace's deadline, when a watchdog shuts the socket's read side, which ends a
    read blocked on a trickle (gunicorn reads a length whole, so a check between reads would
    never run). Without gunicorn's socket (a test client) the body is already all there."""
    length = request.content_length
    connection = request.environ.get("gunicorn.socket")
    pace: UploadPace | None = current_app.config.get(UPLOAD_PACE)
    buffered = length is not None and length <= EDGE_BUFFERED_BYTES
    if connection is None or pace is None or buffered:
        return request.get_data(cache=False)
    seconds = pace.seconds_for(length or max_bytes)
    late, read, guard = threading.Event(), threading.Event(), threading.Lock()

    def cut_off() -> None:
        with guard:  # never once the body is read: the connection may carry the next request
            if read.is_set():
                return
            late.set()
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RD)

    watchdog = threading.Timer(seconds, cut_off)
    watchdog.start()
    too_slow = UploadTooSlowError(
        f"the body did not arrive within {seconds:.0f} s (at least"
        f" {pace.min_bytes_per_second / 1024:.0f} KiB/s after {pace.grace_seconds:g} s)"
    )
    try:
        raw = request.get_data(cache=False)
    except (ClientDisconnected, OSError):  # a chunked body cut short, or the client gone
        if late.is_set():
            raise too_slow from None
        raise
    finally:
        with guard:
            read.set()
        watchdog.cancel()
    if late.is_set() and length is not None and len(raw) < length:  # cut short: gunicorn
        raise too_slow  # hands on what it read of a length, and says nothing
    return raw
