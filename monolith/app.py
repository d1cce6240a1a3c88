"""The monolith: every stage in-process behind the public API (`monolith.app:create_app()`)."""

from __future__ import annotations

from flask import Flask

from churnlab.api.factory import create_service_app
from churnlab.api.public import public_api
from churnlab.bootstrap import inprocess_workflow
from churnlab.config import Settings

SERVICE = "monolith"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    workflow = inprocess_workflow(settings)
    app = create_service_app(SERVICE, settings, readiness=workflow.readiness)
    app.register_blueprint(public_api(SERVICE, workflow, settings))
    app.extensions["churnlab.workflow"] = workflow
    return app
