"""The ingest service: validates records and writes them to the prediction log."""

from flask import Flask

from churnlab.api.stage_apis import create_stage_app, ingest_api
from churnlab.bootstrap import ingest_stage
from churnlab.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_stage_app("ingest", ingest_stage(settings), ingest_api, settings)
