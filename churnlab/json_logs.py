"""JSON log lines, the same for gunicorn's own messages and for every app.

Formatted by orjson, written by the thread that logs. (A queue with one writer thread per
process was measured too: waking that thread for each record cost more CPU per request than
the lock waits it saves.) Kept free of Flask and prometheus_client imports: gunicorn's config
imports this module before its workers start.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.orjson import OrjsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED_FIELDS = {"asctime": "time", "levelname": "level", "name": "logger"}
FORMATTER = "pythonjsonlogger.orjson.OrjsonFormatter"  # for logging.config dictionaries


def configure(level: str, context: logging.Filter) -> None:
    """The root logger writes JSON lines to stderr; `context` adds fields to every record."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(OrjsonFormatter(FORMAT, rename_fields=RENAMED_FIELDS))
    stderr.addFilter(context)
    root = logging.getLogger()
    root.handlers[:] = [stderr]
    root.setLevel(level)
