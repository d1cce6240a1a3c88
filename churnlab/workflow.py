"""The churn workflow, written once against one small interface per stage.

The monolith plugs in in-process stages; the gateway plugs in HTTP clients to the stage
services. Either way a request is answered only once ingest has durably recorded it together
with its answer (nothing accepted is lost, and the log can say why a customer was flagged):
ingest accepts the records first (ids of the server's own), features and inference score them,
and the recording is committed before the answer leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from churnlab.domain.features import FeatureColumns
from churnlab.domain.ingest import IdempotencyKey, Outcome, Recording, accept
from churnlab.domain.response import answers, score_records
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.server_timing import timed

READY = "ready"
# A stage that is down without stopping predictions (ingest, while records are spooled).
DEGRADED = "degraded"


def is_serving(state: str) -> bool:
    return state == READY or state.startswith(DEGRADED)


def summary(state: str) -> str:
    """A state without its reason, which may name internal addresses or raw errors."""
    if state == READY:
        return READY
    return DEGRADED if state.startswith(DEGRADED) else "not ready"


class Stage(Protocol):
    def readiness(self) -> str:
        """`"ready"`, or a short reason why not."""
        ...


class IngestStage(Stage, Protocol):
    def record(self, recording: Recording) -> Outcome:
        """Durably record an answered request (or find its key's earlier answer), within the
        request's deadline. Raises IdempotencyConflictError when its key named another
        request, StorageUnavailableError (or StageUnavailableError) when it cannot be kept."""
        ...

    def prediction(self, prediction_id: str) -> dict[str, Any] | None:
        """One logged prediction with its record and answer, for audit."""
        ...

    def erase(self, customer_id: str) -> int:
        """Every prediction of the customer, out of the log (and any spool); how many."""
        ...


class FeatureStage(Stage, Protocol):
    def prepare(self, records: Sequence[CustomerRecord]) -> FeatureColumns: ...


class InferenceStage(Stage, Protocol):
    def predict(self, features: FeatureColumns) -> Scores: ...

    def model_card(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Answered:
    predictions: list[dict[str, Any]]
    replayed: bool  # the answer of an earlier request with the same Idempotency-Key


@dataclass(frozen=True)
class ChurnWorkflow:
    ingest: IngestStage
    features: FeatureStage
    inference: InferenceStage

    def predict(
        self,
        records: Sequence[CustomerRecord],
        request_id: str,
        idempotency: IdempotencyKey | None = None,
    ) -> Answered:
        accepted = accept(records, request_id, idempotency)
        with timed("features", "feature prep"):
            features = self.features.prepare(accepted.records)
        with timed("inference", "the model's scores"):
            scores = self.inference.predict(features)
        recording = Recording(
            accepted.request_id,
            accepted.received_at,
            idempotency,
            tuple(score_records(accepted, features, scores)),
        )
        with timed("ingest", "recorded durably"):
            outcome = self.ingest.record(recording)
        customer_ids = [record.customer_id for record in accepted.records]
        return Answered(answers(outcome, customer_ids), outcome.replayed)

    def model_card(self) -> dict[str, Any]:
        with timed("inference", "the model's card"):
            return self.inference.model_card()

    def prediction(self, prediction_id: str) -> dict[str, Any] | None:
        with timed("ingest", "read from the log"):
            return self.ingest.prediction(prediction_id)

    def erase(self, customer_id: str) -> int:
        with timed("ingest", "erased from the log"):
            return self.ingest.erase(customer_id)

    def readiness(self) -> dict[str, str]:
        return {
            "ingest": self.ingest.readiness(),
            "features": self.features.readiness(),
            "inference": self.inference.readiness(),
        }
