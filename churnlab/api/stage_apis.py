"""Each stage's own small HTTP API, for the stage services the gateway calls.

Internal, but validated like the public API: a stage never trusts its caller's JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from flask import Blueprint, Flask
from pydantic import BaseModel, ConfigDict, Field, model_validator

from churnlab.adapters.local_stages import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.api.body import read_json
from churnlab.api.factory import create_service_app
from churnlab.config import Settings
from churnlab.domain.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from churnlab.domain.ingest import LoggedRecord
from churnlab.domain.schema import MAX_BATCH_RECORDS, BatchRequest, CustomerRecord
from churnlab.workflow import Stage


class IngestRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, Field(min_length=1, max_length=160)]
    received_at: Annotated[str, Field(min_length=1, max_length=40)]
    record: CustomerRecord


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: Annotated[list[IngestRow], Field(min_length=1, max_length=MAX_BATCH_RECORDS)]


class ScoresRequest(BaseModel):
    """Feature columns as the features service returns them."""

    model_config = ConfigDict(extra="forbid")

    features: dict[str, list[str | float]]

    @model_validator(mode="after")
    def _complete_and_rectangular(self) -> ScoresRequest:
        missing = set(CATEGORICAL_FEATURES + NUMERIC_FEATURES) - set(self.features)
        if missing:
            raise ValueError(f"missing feature columns: {sorted(missing)}")
        lengths = {len(column) for column in self.features.values()}
        if len(lengths) != 1 or not 0 < lengths.pop() <= MAX_BATCH_RECORDS:
            raise ValueError(f"feature columns must have the same length, 1 to {MAX_BATCH_RECORDS}")
        return self


StageT = TypeVar("StageT", bound=Stage)


def create_stage_app(
    service: str,
    stage: StageT,
    api: Callable[[StageT, Settings], Blueprint],
    settings: Settings,
) -> Flask:
    """A stage service: the shared app factory, the stage's readiness, and its one API."""
    app = create_service_app(service, settings, readiness=lambda: {service: stage.readiness()})
    app.register_blueprint(api(stage, settings))
    return app


def ingest_api(ingest: LoggedIngest, settings: Settings) -> Blueprint:
    api = Blueprint("ingest", __name__)

    @api.post("/v1/ingest")
    def record() -> dict[str, int]:
        """Idempotent by request id: the gateway may retry, and replay its spool, freely."""
        request = read_json(IngestRequest, settings.max_batch_body_bytes)
        entries = [
            LoggedRecord(row.request_id, row.received_at, row.record) for row in request.rows
        ]
        return {"received": len(entries), "recorded": ingest.prediction_log.record(entries)}

    return api


def features_api(features: LocalFeatures, settings: Settings) -> Blueprint:
    api = Blueprint("features", __name__)

    @api.post("/v1/features")
    def prepare() -> dict[str, Any]:
        batch = read_json(BatchRequest, settings.max_batch_body_bytes)
        return {"features": features.prepare(batch.records)}

    return api


def inference_api(model: BackgroundModel, settings: Settings) -> Blueprint:
    api = Blueprint("inference", __name__)

    @api.post("/v1/scores")
    def scores() -> dict[str, Any]:
        request = read_json(ScoresRequest, settings.max_batch_body_bytes)
        return model.predict(request.features).to_json()

    @api.get("/v1/model")
    def model_card() -> dict[str, Any]:
        return model.model_card()

    return api
