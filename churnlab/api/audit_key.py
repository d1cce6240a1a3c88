"""The credential for reading and erasing what the log keeps: a bearer key from a file (a
Docker or Kubernetes secret), compared in constant time. Without a file, nobody may: secure by
default. (The public API's own credentials and rate limits belong at the edge.)"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TypeVar

from flask import request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

View = TypeVar("View", bound=Callable)


class AuditKey:
    def __init__(self, key_file: Path | None) -> None:
        self._key = key_file.read_text().strip().encode() if key_file else None
        if self._key is not None and len(self._key) < 16:
            raise ValueError(f"the audit key in {key_file} is too short: 16 characters at least")

    def required(self, view: View) -> View:
        """The view answers only a request that carries `Authorization: Bearer <the key>`."""

        @wraps(view)
        def guarded(*args, **kwargs):
            if self._key is None:
                raise Forbidden(
                    "reading and erasing the prediction log are switched off: no audit key is"
                    " configured (CHURNLAB_AUDIT_KEY_FILE)"
                )
            scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                offered.strip().encode(), self._key
            ):
                raise Unauthorized(
                    "send the audit key as Authorization: Bearer <key>",
                    www_authenticate=WWWAuthenticate("bearer"),
                )
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]
