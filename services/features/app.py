"""The features service: derived features for one record or a batch; stateless."""

from flask import Flask

from churnlab.api.stage_apis import create_stage_app, features_api
from churnlab.config import Settings
from churnlab.inprocess import LocalFeatures


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    features = LocalFeatures()
    return create_stage_app("features", features, features_api(features, settings), settings)
