"""(In the BentoML venv.) A BentoML service over ChurnLab's ONNX model: the record, validated by
ChurnLab's own schema (a pydantic model BentoML takes as is), scored by ChurnLab's feature code
and model, its churn probability back."""

from __future__ import annotations

import os
from pathlib import Path

import bentoml

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.inference import ChurnModel
from churnlab.domain.schema import CustomerRecord

MODEL_DIR = Path(os.environ.get("PEER_MODEL_DIR", "models/current"))
WORKERS = int(os.environ.get("PEER_WORKERS", "2"))


@bentoml.service(workers=WORKERS)
class Churn:
    def __init__(self) -> None:
        self.model = ChurnModel.load(MODEL_DIR)

    @bentoml.api
    def predict(self, record: CustomerRecord) -> float:
        scores = self.model.predict(prepare_features(records_to_columns([record])))
        return scores.churn_probability[0]
