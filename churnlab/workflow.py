"""The churn workflow, written once against one small interface per stage.

The monolith plugs in in-process stages; the gateway plugs in HTTP clients to the stage services.
Either way no prediction is answered before its record is durable (nothing accepted is lost):
in-process ingest records before scoring starts; over HTTP it runs beside scoring, which saves
a hop of latency, and the answer still waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from churnlab.domain.features import FeatureColumns
from churnlab.domain.ingest import AcceptedRequest, accept
from churnlab.domain.response import build_predictions
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores

READY = "ready"
# A stage that is down without stopping predictions (ingest, while records are spooled).
DEGRADED = "degraded"


def is_serving(state: str) -> bool:
    return state == READY or state.startswith(DEGRADED)


class Stage(Protocol):
    def readiness(self) -> str:
        """`"ready"`, or a short reason why not."""
        ...


class IngestStage(Stage, Protocol):
    def record(self, accepted: AcceptedRequest) -> Future[bool]:
        """Start recording. The result is True once durably logged, False once spooled to be
        logged later; it raises if the records could be kept neither way."""
        ...


class FeatureStage(Stage, Protocol):
    def prepare(self, records: Sequence[CustomerRecord]) -> FeatureColumns: ...


class InferenceStage(Stage, Protocol):
    def predict(self, features: FeatureColumns) -> Scores: ...

    def model_card(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ChurnWorkflow:
    ingest: IngestStage
    features: FeatureStage
    inference: InferenceStage

    def predict(self, records: Sequence[CustomerRecord], request_id: str) -> list[dict[str, Any]]:
        accepted = accept(records, request_id)
        recording = self.ingest.record(accepted)
        features = self.features.prepare(accepted.records)
        scores = self.inference.predict(features)
        return build_predictions(accepted, features, scores, recorded=recording.result())

    def model_card(self) -> dict[str, Any]:
        return self.inference.model_card()

    def readiness(self) -> dict[str, str]:
        return {
            "ingest": self.ingest.readiness(),
            "features": self.features.readiness(),
            "inference": self.inference.readiness(),
        }
