"""The gateway: the public API, with every stage an HTTP call to its service."""

from __future__ import annotations

from flask import Flask

from churnlab.api.public import create_public_app
from churnlab.bootstrap import http_workflow
from churnlab.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_public_app("gateway", settings, http_workflow(settings))
