"""The inference service: the ONNX model and its card; the only image with a model runtime."""

from flask import Flask

from churnlab.api.stage_apis import create_stage_app, inference_api
from churnlab.config import Settings
from churnlab.inprocess import BackgroundModel


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    model = BackgroundModel(settings.model_dir).start()
    return create_stage_app("inference", model, inference_api(model, settings), settings)
