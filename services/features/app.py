"""The features service: derived features for one record or a batch; stateless."""

from flask import Flask

from churnlab.api.stage_apis import create_stage_app, features_api
from churnlab.bootstrap import features_stage
from churnlab.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_stage_app("features", features_stage(settings), features_api, settings)
