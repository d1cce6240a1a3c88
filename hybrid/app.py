"""The hybrid API: the public API with ingest and features in-process, the model a service."""

from __future__ import annotations

from flask import Flask

from churnlab.api.public import create_public_app
from churnlab.bootstrap import hybrid_workflow
from churnlab.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_public_app("hybrid", settings, hybrid_workflow(settings))
