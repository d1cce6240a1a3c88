"""The public churn API. Written once; the monolith and the gateway mount the same blueprint."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from churnlab.api.audit_key import AuditKey
from churnlab.api.body import read_json
from churnlab.api.factory import create_service_app
from churnlab.api.observability import RECORDS_SCORED
from churnlab.api.openapi import openapi_document
from churnlab.config import Settings
from churnlab.domain.ingest import IdempotencyKey, fingerprint
from churnlab.domain.schema import (
    CUSTOMER_ID_PATTERN,
    MAX_CUSTOMER_ID_LENGTH,
    BatchRequest,
    CustomerRecord,
)
from churnlab.workflow import Answered, ChurnWorkflow

IDEMPOTENCY_HEADER = "Idempotency-Key"
PREDICTION_ID = re.compile(r"^[0-9a-f]{32}$")
REPLAYED_HEADER = "Idempotent-Replayed"
# The draft "The Idempotency-Key HTTP Header Field" makes it a structured-field string
# ("..."); a bare token is taken too, as most APIs do.
_VALID_KEY = re.compile(r'^"?([\x21\x23-\x5b\x5d-\x7e]{1,255})"?$')


def idempotency_key(route: str, records: Sequence[CustomerRecord]) -> IdempotencyKey | None:
    supplied = request.headers.get(IDEMPOTENCY_HEADER)
    if supplied is None:
        return None
    valid = _VALID_KEY.match(supplied.strip())
    if valid is None:
        raise BadRequest(
            f"{IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters, optionally quoted"
        )
    return IdempotencyKey(valid.group(1), fingerprint(route, records))


def public_api(service: str, workflow: ChurnWorkflow, settings: Settings) -> Blueprint:
    api = Blueprint("public", __name__)
    scored = RECORDS_SCORED.labels(service)
    spec = openapi_document(settings)
    audit = AuditKey(settings.audit_key_file)

    def answered(body: dict[str, Any], outcome: Answered) -> Response:
        response = jsonify(body)
        if outcome.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        else:
            scored.inc(len(outcome.predictions))
        return response

    @api.post("/v1/predict")
    def predict() -> Response:
        record = read_json(CustomerRecord, settings.max_single_body_bytes)
        key = idempotency_key("/v1/predict", [record])
        outcome = workflow.predict([record], g.request_id, key)
        return answered(outcome.predictions[0], outcome)

    @api.post("/v1/predict/batch")
    def predict_batch() -> Response:
        batch = read_json(BatchRequest, settings.max_batch_body_bytes)
        key = idempotency_key("/v1/predict/batch", batch.records)
        outcome = workflow.predict(batch.records, g.request_id, key)
        predictions = outcome.predictions
        body = {
            "request_id": predictions[0]["request_id"],
            "model_version": predictions[0]["model_version"],
            "count": len(predictions),
            "predictions": predictions,
        }
        return answered(body, outcome)

    @api.get("/v1/model")
    def model() -> dict[str, Any]:
        return workflow.model_card()

    @api.get("/v1/predictions/<prediction_id>")
    @audit.required
    def prediction(prediction_id: str) -> dict[str, Any]:
        """What the log keeps of one prediction: the record, its answer, when and for whom."""
        found = PREDICTION_ID.match(prediction_id) and workflow.prediction(prediction_id)
        if not found:
            raise NotFound(f"no prediction {prediction_id} in the log")
        return found

    @api.delete("/v1/customers/<customer_id>/predictions")
    @audit.required
    def erase(customer_id: str) -> dict[str, Any]:
        """Every prediction of the customer, out of the log; repeatable (0 the second time)."""
        if len(customer_id) > MAX_CUSTOMER_ID_LENGTH or not re.match(
            CUSTOMER_ID_PATTERN, customer_id
        ):
            raise BadRequest("a customer id is 1 to 64 letters, digits or . _ : -")
        return {"customer_id": customer_id, "erased": workflow.erase(customer_id)}

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
