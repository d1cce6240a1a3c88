"""The app factory every deployable starts from: the monolith, each stage service, the gateway.

It owns what all of them share (probes, metrics, request ids, JSON logs, traces, Server-Timing,
problem+json errors), so a deployable only adds its own routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, request

from churnlab import tracing
from churnlab.api.body import UPLOAD_PACE, UploadPace
from churnlab.api.json_provider import OrjsonProvider
from churnlab.api.observability import configure_logging, install_request_tracking, metrics_response
from churnlab.api.problems import register_problem_handlers
from churnlab.config import Settings
from churnlab.request_context import DEADLINE_HEADER, current_deadline
from churnlab.workflow import READY, is_serving, summary

Readiness = Callable[[], dict[str, str]]


def create_service_app(service: str, settings: Settings, readiness: Readiness) -> Flask:
    app = Flask(service)
    app.json = OrjsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_batch_body_bytes
    app.config[UPLOAD_PACE] = UploadPace(
        settings.upload_grace_seconds, settings.upload_min_bytes_per_second
    )
    configure_logging(service, settings.log_level)
    tracing.configure(app, service)  # first: its span is open when the request's id is given
    install_request_tracking(app, service)
    install_deadline(app, settings.request_deadline_seconds)
    register_problem_handlers(app)
    app.register_blueprint(_probes(service, readiness))
    return app


def install_deadline(app: Flask, seconds: float) -> None:
    """Each request's deadline: `seconds` from its arrival, or sooner when its caller (the
    gateway, or a client) says in DEADLINE_HEADER how many milliseconds it will wait."""

    @app.before_request
    def start_the_clock() -> None:
        budget = seconds
        offered = request.headers.get(DEADLINE_HEADER, "")
        if offered.isdigit():
            budget = min(budget, int(offered) / 1000)
        g.deadline = current_deadline.set(time.monotonic() + budget)

    @app.teardown_request
    def stop_the_clock(_: BaseException | None) -> None:
        """The thread goes on to other work (a pool thread, a test): no deadline of its own."""
        if "deadline" in g:
            current_deadline.reset(g.pop("deadline"))


def _probes(service: str, readiness: Readiness) -> Blueprint:
    probes = Blueprint("probes", __name__)

    @probes.get("/livez")
    def livez() -> dict[str, str]:
        """Alive means the process answers; it checks nothing else on purpose."""
        return {"status": "alive", "service": service}

    @probes.get("/readyz")
    def readyz() -> tuple[dict, int, dict[str, str]]:
        """Each check's state; `?verbose` adds why (addresses, raw errors). The edge drops the
        query on its public port, so only callers inside a deployment read the reasons."""
        checks = readiness()
        ready = all(is_serving(state) for state in checks.values())
        degraded = ready and any(state != READY for state in checks.values())
        status = "degraded" if degraded else "ready" if ready else "not ready"
        if "verbose" not in request.args:
            checks = {name: summary(state) for name, state in checks.items()}
        body = {"status": status, "service": service, "checks": checks}
        return body, (200 if ready else 503), ({} if ready else {"Retry-After": "1"})

    @probes.get("/metrics")
    def metrics() -> Response:
        return metrics_response()

    return probes
