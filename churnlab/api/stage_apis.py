"""Each stage's own small HTTP API, for the stage services the gateway calls.

Internal, but validated like the public API: a stage never trusts its caller's JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from importlib.metadata import version
from typing import Annotated, Any, Literal, TypeVar

from flask import Blueprint, Flask, Response, json
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from werkzeug.exceptions import NotFound

from churnlab.adapters import inference_protocol as protocol
from churnlab.adapters.local_stages import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.api.body import read_json
from churnlab.api.factory import create_service_app
from churnlab.config import Settings
from churnlab.domain.errors import PROBLEM_JSON, IdempotencyConflictError
from churnlab.domain.ingest import Outcome, Recording
from churnlab.domain.schema import MAX_BATCH_RECORDS, BatchRequest, CustomerRecord, Reason
from churnlab.server_timing import timed
from churnlab.workflow import READY, Stage


class IngestPrediction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    position: Annotated[int, Field(ge=0, lt=MAX_BATCH_RECORDS)]
    record: CustomerRecord
    churn_probability: Annotated[float, Field(ge=0, le=1)]
    churn: bool
    risk: Literal["low", "medium", "high"]
    reasons: list[Reason]
    model_version: Annotated[str, Field(min_length=1, max_length=200)]


class IngestRecording(BaseModel):
    """An answered request, as `Recording.to_json` sends it."""

    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    received_at: AwareDatetime
    idempotency_key: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    fingerprint: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    predictions: Annotated[
        list[IngestPrediction], Field(min_length=1, max_length=MAX_BATCH_RECORDS)
    ]
    spooled: bool = False  # replayed from a gateway's spool

    def to_domain(self) -> Recording:
        body = self.model_dump()
        # One spelling of time in the log, whatever the sender's: UTC, microseconds.
        received_at = self.received_at.astimezone(UTC).isoformat(timespec="microseconds")
        return Recording.from_json(body | {"received_at": received_at})


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recordings: Annotated[list[IngestRecording], Field(min_length=1, max_length=1000)]


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
    app.extensions["churnlab.stage"] = stage
    return app


def ingest_api(ingest: LoggedIngest, settings: Settings) -> Blueprint:
    api = Blueprint("ingest", __name__)

    @api.post("/v1/ingest")
    def record() -> dict[str, Any]:
        """Idempotent by prediction id and by key: the gateway may retry, and replay its spool,
        freely. One outcome per recording; a key that named another request is a "conflict"
        for that recording alone."""
        request = read_json(IngestRequest, settings.max_batch_body_bytes)
        results = ingest.record_all([recording.to_domain() for recording in request.recordings])
        return {"outcomes": [_outcome_json(result) for result in results]}

    @api.get("/v1/predictions/<prediction_id>")
    def prediction(prediction_id: str) -> dict[str, Any]:
        found = ingest.prediction(prediction_id)
        if found is None:
            raise NotFound(f"no prediction {prediction_id} in the log")
        return found

    @api.delete("/v1/customers/<customer_id>/predictions")
    def erase(customer_id: str) -> dict[str, Any]:
        return {"customer_id": customer_id, "erased": ingest.erase(customer_id)}

    return api


def _outcome_json(result: Outcome | Exception) -> dict[str, Any]:
    if isinstance(result, IdempotencyConflictError):
        return {"status": "conflict"}
    assert isinstance(result, Outcome)
    if result.replayed:
        return {
            "status": "replayed",
            "copies": result.copies,
            "recording": result.recording.to_json(),
        }
    return {"status": "recorded", "copies": result.copies}


def features_api(features: LocalFeatures, settings: Settings) -> Blueprint:
    api = Blueprint("features", __name__)

    @api.post("/v1/features")
    def prepare() -> dict[str, Any]:
        batch = read_json(BatchRequest, settings.max_batch_body_bytes)
        with timed("compute", "feature prep"):
            return {"features": features.prepare(batch.records)}

    return api


def inference_api(model: BackgroundModel, settings: Settings) -> Blueprint:
    """The model tier: the Open Inference Protocol's REST form (inference_protocol.py), its
    model metadata carrying the model card, so that another server of the protocol (MLServer,
    services/mlserver/) can stand in. Its errors are problem+json with the protocol's `error`
    member too, which Triton's and MLServer's clients read."""
    api = Blueprint("inference", __name__)

    @api.get("/v2/health/live")
    def live() -> dict[str, Any]:
        return {}

    @api.get("/v2/health/ready")
    def ready() -> tuple[dict[str, Any], int]:
        return {}, 200 if model.readiness() == READY else 503

    @api.get("/v2")
    def server_metadata() -> dict[str, Any]:
        return {"name": "churnlab-inference", "version": version("churnlab"), "extensions": []}

    @api.get("/v2/models/<name>")
    def model_metadata(name: str) -> dict[str, Any]:
        _served(name)
        return protocol.model_metadata(model.model_card())

    @api.get("/v2/models/<name>/ready")
    def model_ready(name: str) -> tuple[dict[str, Any], int]:
        _served(name)
        return {}, 200 if model.readiness() == READY else 503

    @api.post("/v2/models/<name>/infer")
    def infer(name: str) -> dict[str, Any]:
        _served(name)
        request = read_json(
            protocol.InferRequest, settings.max_batch_body_bytes, untyped_is_json=True
        )
        features = request.features()
        model.check_categories(features)  # the public schema's job on the other routes
        with timed("compute", "the model's scores"):
            return protocol.infer_response(model.predict(features), request)

    @api.after_app_request  # every answer of the service, a route's 404 or 405 included
    def with_the_protocol_s_error(response: Response) -> Response:
        if response.mimetype == PROBLEM_JSON:
            body = response.get_json()
            response.set_data(json.dumps(body | {"error": _protocol_error(body)}))
        return response

    return api


def _protocol_error(problem: dict[str, Any]) -> str:
    """A problem as the protocol's one `error` string: its detail, and each field's reason."""
    fields = [f"{e['field']}: {e['message']}" for e in problem.get("errors", [])]
    return "; ".join([problem["detail"], *fields])


def _served(name: str) -> None:
    if name != protocol.MODEL_NAME:
        raise NotFound(f"no model named {name!r} here; this server serves {protocol.MODEL_NAME!r}")
