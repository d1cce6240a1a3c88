"""gunicorn settings shared by every deployable (`gunicorn -c python:churnlab.gunicorn_conf`).

Environment: CHURNLAB_BIND (127.0.0.1:8000), WEB_CONCURRENCY (2 worker processes),
CHURNLAB_THREADS (4 threads per worker), CHURNLAB_GRACEFUL_TIMEOUT (20 s to finish in-flight
requests after SIGTERM).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from gunicorn.glogging import Logger

from churnlab import json_logs

bind = os.environ.get("CHURNLAB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread workers keep client connections alive, which a gateway's pooled clients rely on;
# this one also refuses new connections as soon as it stops (gunicorn_worker.py).
worker_class = "churnlab.gunicorn_worker.StoppingThreadWorker"
threads = int(os.environ.get("CHURNLAB_THREADS", "4"))
keepalive = 75
timeout = 30
graceful_timeout = int(os.environ.get("CHURNLAB_GRACEFUL_TIMEOUT", "20"))
# gunicorn 27's runtime control socket is not used here, and would need a writable home.
control_socket_disable = True
errorlog = "-"
# The edge holds the request limits (a URL of 8,000 bytes, 100 header lines, 16 KiB of headers)
# and answers them as problem+json; gunicorn's own are looser, so that nothing the edge let
# through is refused here. They still bound what reaches a worker past the edge (the gateway's
# calls, a local run's direct callers), and gunicorn_worker answers them as problem+json too.
limit_request_line = 8190  # gunicorn's most: "GET " + 8,000 bytes + " HTTP/1.1" fits
limit_request_fields = 200
limit_request_field_size = 32768
# The app's path is the request's: no SCRIPT_NAME or PATH_INFO from a header, even from
# 127.0.0.1, where the edge of the local runtime and any local process connect from.
forwarder_headers = ""


class QuietAccessLogger(Logger):
    """gunicorn's own messages, without an access line: the edge and the app each log every
    request with its id, and gunicorn builds its line's fields per request even when dropped."""

    def access(self, resp: object, req: object, environ: object, request_time: object) -> None:
        return None


logger_class = QuietAccessLogger
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": json_logs.FORMATTER,
            "fmt": json_logs.FORMAT,
            "rename_fields": json_logs.RENAMED_FIELDS,
        }
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    # gunicorn merges this over its defaults, so the root logger must be redefined too.
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}

# prometheus_client's multiprocess mode: every worker writes its samples to files in this
# directory and /metrics sums them. It must be set before any worker imports prometheus_client.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="churnlab-metrics-")
)


def on_starting(server: object) -> None:
    """Start from empty metric files: stale ones from an earlier run would be summed in."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
