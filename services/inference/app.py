"""The inference service: the ONNX model and its card; the only image with a model runtime."""

from flask import Flask

from churnlab.api.stage_apis import create_stage_app, inference_api
from churnlab.bootstrap import inference_stage
from churnlab.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_stage_app("inference", inference_stage(settings), inference_api, settings)
