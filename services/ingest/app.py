"""The ingest service: validates records and writes them to the prediction log."""

from flask import Flask

from churnlab.api.stage_apis import create_stage_app, ingest_api
from churnlab.bootstrap import prediction_log
from churnlab.config import Settings
from churnlab.inprocess import LoggedIngest


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    ingest = LoggedIngest(prediction_log(settings))
    return create_stage_app("ingest", ingest, ingest_api(ingest, settings), settings)
