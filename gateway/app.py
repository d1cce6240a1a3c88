"""The gateway: the public API, with every stage an HTTP call to its service."""

from flask import Flask

from churnlab.api.factory import create_service_app
from churnlab.api.public import public_api
from churnlab.bootstrap import http_workflow
from churnlab.config import Settings

SERVICE = "gateway"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    workflow = http_workflow(settings)
    app = create_service_app(SERVICE, settings, readiness=workflow.readiness)
    app.register_blueprint(public_api(SERVICE, workflow, settings))
    app.extensions["churnlab.workflow"] = workflow
    return app
