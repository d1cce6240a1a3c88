"""The public churn API. Written once; the monolith and the gateway mount the same blueprint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g

from churnlab.api.body import read_json
from churnlab.api.factory import create_service_app
from churnlab.api.observability import RECORDS_SCORED
from churnlab.api.openapi import openapi_document
from churnlab.config import Settings
from churnlab.domain.schema import BatchRequest, CustomerRecord
from churnlab.workflow import ChurnWorkflow


def public_api(service: str, workflow: ChurnWorkflow, settings: Settings) -> Blueprint:
    api = Blueprint("public", __name__)
    scored = RECORDS_SCORED.labels(service)
    spec = openapi_document(settings)

    @api.post("/v1/predict")
    def predict() -> dict[str, Any]:
        record = read_json(CustomerRecord, settings.max_single_body_bytes)
        [prediction] = workflow.predict([record], g.request_id)
        scored.inc()
        return prediction

    @api.post("/v1/predict/batch")
    def predict_batch() -> dict[str, Any]:
        batch = read_json(BatchRequest, settings.max_batch_body_bytes)
        predictions = workflow.predict(batch.records, g.request_id)
        scored.inc(len(predictions))
        return {
            "request_id": g.request_id,
            "model_version": predictions[0]["model_version"],
            "count": len(predictions),
            "predictions": predictions,
        }

    @api.get("/v1/model")
    def model() -> dict[str, Any]:
        return workflow.model_card()

    @api.get("/openapi.json")
    def openapi() -> dict[str, Any]:
        return spec

    return api


def create_public_app(service: str, settings: Settings, workflow: ChurnWorkflow) -> Flask:
    """A deployable that serves the public API: the monolith or the gateway, by its workflow."""
    app = create_service_app(service, settings, readiness=workflow.readiness)
    app.register_blueprint(public_api(service, workflow, settings))
    app.extensions["churnlab.workflow"] = workflow
    return app
