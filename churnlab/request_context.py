"""The current request id, readable by adapters that know nothing of Flask (the HTTP clients)."""

from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
