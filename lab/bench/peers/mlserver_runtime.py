"""(In the MLServer venv.) A custom MLServer runtime for ChurnLab's ONNX model: the Open Inference
Protocol's request, one column an input (MLServer's pandas codec), scored by ChurnLab's own
feature code and model, the churn probability back as one output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, PandasCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.inference import ChurnModel
from churnlab.domain.schema import CustomerRecord


class ChurnRuntime(MLModel):
    async def load(self) -> bool:
        self._model = ChurnModel.load(Path(await get_model_uri(self.settings)))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        rows = PandasCodec.decode_request(payload).to_dict("records")
        records = [CustomerRecord.model_validate(_missing_as_none(row)) for row in rows]
        scores = self._model.predict(prepare_features(records_to_columns(records)))
        probability = np.asarray(scores.churn_probability, dtype=np.float64)
        return InferenceResponse(
            model_name=self.name,
            outputs=[NumpyCodec.encode_output("churn_probability", probability)],
        )


def _missing_as_none(row: dict) -> dict:
    """pandas reads a missing number as NaN; the record says None (total_charges may be)."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
