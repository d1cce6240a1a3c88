"""The monolith: every stage in-process behind the public API (`monolith.app:create_app()`)."""

from __future__ import annotations

from flask import Flask

from churnlab.api.public import create_public_app
from churnlab.bootstrap import inprocess_workflow
from churnlab.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_public_app("monolith", settings, inprocess_workflow(settings))
