"""The model tier's wire format: the Open Inference Protocol's REST form (KServe's v2), which
Triton, MLServer and KServe speak, so that any client of theirs can call ChurnLab's model
service, and a server of theirs can stand in for it.

One request carries the feature columns as typed tensors, one a column: the categorical ones
as BYTES, the numeric ones as FP64, each of shape [rows]. The answer carries two tensors: the
churn probability of each row, and each feature's contribution, [rows, features], row-major,
the features in FEATURES' order, which the model's metadata declares (not each answer: a server
that batches, MLServer's, splits an answer's list parameters between requests). Both sides of
the hop use this module (the service in `churnlab/api/stage_apis.py`, the gateway and the
hybrid API in `http_stages.py`, MLServer's runtime in `services/mlserver/`); it needs pydantic,
not numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from churnlab.domain.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    FeatureColumns,
    row_count,
)
from churnlab.domain.schema import MAX_BATCH_RECORDS
from churnlab.domain.scores import Scores

MODEL_NAME = "churn"
PLATFORM = "onnxruntime_onnx"
FEATURES = (*CATEGORICAL_FEATURES, *NUMERIC_FEATURES)
INPUT_TYPES = dict.fromkeys(CATEGORICAL_FEATURES, "BYTES") | dict.fromkeys(NUMERIC_FEATURES, "FP64")
NUMERIC_TYPES = frozenset(
    {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32"}
)
FLOAT32_MAX = 3.4e38  # the model takes its numeric columns as float32
PROBABILITY, CONTRIBUTIONS = "churn_probability", "contributions"
CARD = "churnlab_model_card"
# What a caller probes and calls: the model loaded (not only the server up), and its scores.
READY_PATH = f"/v2/models/{MODEL_NAME}/ready"
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"
METADATA_PATH = f"/v2/models/{MODEL_NAME}"
OUTPUTS = (PROBABILITY, CONTRIBUTIONS)

Name = Annotated[str, Field(min_length=1, max_length=128)]


class Tensor(BaseModel):
    """An input tensor, its data flat in row-major order (as Triton's and MLServer's clients
    send it)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    shape: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=2)]
    datatype: Annotated[str, Field(min_length=1, max_length=16)]
    parameters: dict[str, Any] | None = None
    data: Annotated[list[str | float | bool], Field(max_length=MAX_BATCH_RECORDS)]

    @model_validator(mode="after")
    def _a_column(self) -> Tensor:
        rows, *width = self.shape
        if width not in ([], [1]):
            raise ValueError(f"{self.name}: a feature is a column, of shape [rows] or [rows, 1]")
        if len(self.data) != rows:
            raise ValueError(f"{self.name}: shape {self.shape} but {len(self.data)} values")
        if self.name not in INPUT_TYPES:
            raise ValueError(f"{self.name}: not an input of {MODEL_NAME} ({', '.join(FEATURES)})")
        if INPUT_TYPES[self.name] == "BYTES":
            if self.datatype != "BYTES" or not all(isinstance(v, str) for v in self.data):
                raise ValueError(f"{self.name}: BYTES (strings), not {self.datatype}")
        elif self.datatype not in NUMERIC_TYPES or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in self.data
        ):
            raise ValueError(f"{self.name}: a number type (FP64...), not {self.datatype}")
        elif not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in self.data):
            raise ValueError(f"{self.name}: finite numbers only, within float32's range")
        return self


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    parameters: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _known(self) -> RequestedOutput:
        if self.name not in OUTPUTS:
            raise ValueError(f"{self.name}: not an output of {MODEL_NAME} ({', '.join(OUTPUTS)})")
        return self


class InferRequest(BaseModel):
    """`POST /v2/models/churn/infer`: every feature once, all of one length."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(max_length=128)] | None = None
    parameters: dict[str, Any] | None = None
    inputs: Annotated[list[Tensor], Field(min_length=1, max_length=len(FEATURES))]
    outputs: list[RequestedOutput] | None = None

    @model_validator(mode="after")
    def _every_feature_once(self) -> InferRequest:
        names = [tensor.name for tensor in self.inputs]
        missing = sorted(set(FEATURES) - set(names))
        if missing or len(set(names)) != len(names):
            raise ValueError(f"send each input once; missing: {missing or 'none'}")
        if len({tensor.shape[0] for tensor in self.inputs}) != 1 or not self.inputs[0].shape[0]:
            raise ValueError(f"every input must have as many rows, 1 to {MAX_BATCH_RECORDS}")
        return self

    def features(self) -> FeatureColumns:
        return {tensor.name: list(tensor.data) for tensor in self.inputs}


def infer_request(features: FeatureColumns) -> dict[str, Any]:
    """The request a caller sends for these feature columns."""
    rows = row_count(features)
    return {
        "inputs": [
            {"name": name, "shape": [rows], "datatype": INPUT_TYPES[name], "data": features[name]}
            for name in FEATURES
        ]
    }


def infer_response(scores: Scores, request: InferRequest) -> dict[str, Any]:
    """The answer: the outputs asked for (both, unless `outputs` names some)."""
    rows = len(scores.churn_probability)
    tensors = {
        PROBABILITY: {
            "name": PROBABILITY,
            "shape": [rows],
            "datatype": "FP64",
            "data": scores.churn_probability,
        },
        CONTRIBUTIONS: {
            "name": CONTRIBUTIONS,
            "shape": [rows, len(FEATURES)],
            "datatype": "FP64",
            "data": [row[name] for row in scores.contributions for name in FEATURES],
        },
    }
    wanted = [output.name for output in request.outputs] if request.outputs else OUTPUTS
    answer = {"model_name": MODEL_NAME, "model_version": scores.model_version}
    if request.id is not None:
        answer["id"] = request.id
    return answer | {"outputs": [tensors[name] for name in wanted]}


def scores_from(answer: Mapping[str, Any], rows: int) -> Scores:
    """The Scores in an answer to infer_request's request of `rows` rows; ValueError (or a
    KeyError, TypeError) for an answer that is not one."""
    outputs = {tensor["name"]: tensor for tensor in answer["outputs"]}
    probabilities = list(outputs[PROBABILITY]["data"])
    contributions = outputs[CONTRIBUTIONS]
    names, flat = FEATURES, contributions["data"]
    if list(contributions["shape"]) != [rows, len(names)] or len(flat) != rows * len(names):
        shape = contributions["shape"]
        raise ValueError(f"contributions of shape {shape}, not [{rows}, {len(names)}]")
    if len(probabilities) != rows or not all(0 <= p <= 1 for p in probabilities):
        raise ValueError(
            f"{len(probabilities)} probabilities for {rows} rows, or one not in [0, 1]"
        )
    return Scores(
        model_version=str(answer["model_version"]),
        churn_probability=probabilities,
        contributions=[
            dict(zip(names, flat[start : start + len(names)], strict=True))
            for start in range(0, len(flat), len(names))
        ],
    )


def model_metadata(card: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /v2/models/churn`: the model's name, version, platform and tensors, and its card
    (the public API's `GET /v1/model`) in the protocol's `parameters`, whichever server it is."""
    return {
        "name": MODEL_NAME,
        "versions": [card["version"]],
        "platform": PLATFORM,
        "inputs": [
            {"name": name, "datatype": INPUT_TYPES[name], "shape": [-1]} for name in FEATURES
        ],
        "outputs": [
            {"name": PROBABILITY, "datatype": "FP64", "shape": [-1]},
            {
                "name": CONTRIBUTIONS,
                "datatype": "FP64",
                "shape": [-1, len(FEATURES)],
                "parameters": {"features": list(FEATURES)},
            },
        ],
        "parameters": {CARD: dict(card)},
    }


def card_from(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The model card in a model's metadata (model_metadata's)."""
    return dict(metadata["parameters"][CARD])
