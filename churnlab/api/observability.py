"""Request ids, JSON logs, Server-Timing and Prometheus metrics: the same for every deployable.

Metrics work across gunicorn workers through prometheus_client's multiprocess mode, which is on
whenever PROMETHEUS_MULTIPROC_DIR is set (our gunicorn config sets it before any worker starts).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from churnlab import json_logs, server_timing, tracing
from churnlab.request_context import current_request_id

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Probes are polled constantly: log them at DEBUG so they do not drown real traffic.
QUIET_ROUTES = frozenset({"/livez", "/readyz", "/metrics"})
# The methods a metric names; any other (gunicorn takes any 3 to 20 capitals) counts as OTHER,
# so that invented methods cannot grow the series without bound. Routes are bounded already:
# each is its rule's template, or "<unmatched>".
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "churnlab_http_requests_total",
    "HTTP requests handled, by route and status.",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "churnlab_http_request_duration_seconds",
    "Time from request to response inside the server.",
    ["service", "route", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECORDS_SCORED = Counter(
    "churnlab_records_scored_total", "Customer records given a churn score.", ["service"]
)

access_log = logging.getLogger("churnlab.access")


class _RequestContext(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(service: str, level: str) -> None:
    """JSON lines on stderr, each with the service name and the current request id."""
    json_logs.configure(level, _RequestContext(service))


def incoming_request_id() -> str:
    """Keep a well-formed caller's id so one id follows a request through every hop."""
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    return supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex


def install_request_tracking(app: Flask, service: str) -> None:
    @app.before_request
    def start() -> None:
        g.request_id = incoming_request_id()
        current_request_id.set(g.request_id)
        tracing.tag_request(g.request_id)
        g.started = time.perf_counter()
        g.server_timing = server_timing.start()

    @app.after_request
    def finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        response.headers[server_timing.HEADER] = server_timing.header(elapsed * 1000, service)
        method = request.method if request.method in COUNTED_METHODS else "OTHER"
        requests_counted, latency = _series(service, route, method, response.status_code)
        requests_counted.inc()
        latency.observe(elapsed)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
        return response

    @app.teardown_request
    def forget(_: BaseException | None) -> None:
        """The thread goes on to other work: nothing gathered is carried into it."""
        if "server_timing" in g:
            server_timing.stop(g.pop("server_timing"))


@functools.cache
def _series(service: str, route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled series of one kind of request, looked up once rather than per request."""
    return (
        HTTP_REQUESTS.labels(service, route, method, str(status)),
        HTTP_LATENCY.labels(service, route, method),
    )


def metrics_response() -> Response:
    """All workers' metrics when running multiprocess, this process's otherwise."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
