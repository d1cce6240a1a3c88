"""The model tier's wire format (the Open Inference Protocol's REST form): what a caller sends
for feature columns, what it reads back, and what the service refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from churnlab.adapters import inference_protocol as protocol
from churnlab.domain.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from churnlab.domain.scores import Scores

FEATURES = {
    **{name: ["a", "b"] for name in CATEGORICAL_FEATURES},
    **{name: [1.5, 2] for name in NUMERIC_FEATURES},
}


def test_feature_columns_cross_as_typed_tensors_and_come_back_the_same():
    request = protocol.InferRequest.model_validate(protocol.infer_request(FEATURES))
    assert request.features() == FEATURES
    sent = {t.name: t for t in request.inputs}
    assert sent[CATEGORICAL_FEATURES[0]].datatype == "BYTES"
    assert sent[NUMERIC_FEATURES[0]].datatype == "FP64"
    assert {tuple(t.shape) for t in request.inputs} == {(2,)}


def test_the_answer_s_contributions_are_rows_of_named_features():
    contributions = [
        {name: float(i) for i, name in enumerate(protocol.FEATURES)},
        {name: -float(i) for i, name in enumerate(protocol.FEATURES)},
    ]
    scores = Scores("v7", [0.25, 0.75], contributions)
    request = protocol.InferRequest.model_validate({**protocol.infer_request(FEATURES), "id": "x"})
    answer = protocol.infer_response(scores, request)
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("churn", "v7", "x")
    tensors = {t["name"]: t for t in answer["outputs"]}
    assert tensors["contributions"]["shape"] == [2, len(protocol.FEATURES)]
    assert protocol.scores_from(answer, rows=2) == scores


def test_an_answer_holds_only_the_outputs_asked_for():
    scores = Scores("v7", [0.5, 0.5], [dict.fromkeys(protocol.FEATURES, 0.0)] * 2)
    body = {**protocol.infer_request(FEATURES), "outputs": [{"name": "churn_probability"}]}
    answer = protocol.infer_response(scores, protocol.InferRequest.model_validate(body))
    assert [t["name"] for t in answer["outputs"]] == ["churn_probability"]
    assert "id" not in answer


def tensors_with(feature: str, **changes) -> dict:
    """A valid request but for one input's changes."""
    body = protocol.infer_request(FEATURES)
    for tensor in body["inputs"]:
        if tensor["name"] == feature:
            tensor.update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (tensors_with(NUMERIC_FEATURES[0], data=["1.5", "2"]), "a number type"),
        (tensors_with(NUMERIC_FEATURES[0], data=[True, False]), "a number type"),
        (tensors_with(CATEGORICAL_FEATURES[0], datatype="FP64"), "BYTES"),
        (tensors_with(CATEGORICAL_FEATURES[0], data=[1, 2]), "BYTES"),
        (tensors_with(NUMERIC_FEATURES[0], shape=[3]), "but 2 values"),
        (tensors_with(NUMERIC_FEATURES[0], shape=[2, 2]), "a feature is a column"),
        (tensors_with(NUMERIC_FEATURES[0], name="surprise"), "not an input of churn"),
        ({"inputs": protocol.infer_request(FEATURES)["inputs"][1:]}, "missing"),
        (
            {"inputs": [*protocol.infer_request(FEATURES)["inputs"][:-1],
                        protocol.infer_request(FEATURES)["inputs"][0]]},
            "send each input once",
        ),
        (
            protocol.infer_request({n: v[:1] for n, v in FEATURES.items()})
            | {"outputs": [{"name": "logits"}]},
            "not an output of churn",
        ),
    ],
)  # fmt: skip
def test_a_malformed_request_is_refused_and_says_why(body, says):
    with pytest.raises(ValidationError, match=says):
        protocol.InferRequest.model_validate(body)


def test_columns_of_different_lengths_are_refused():
    body = protocol.infer_request(FEATURES)
    body["inputs"][0] |= {"shape": [1], "data": ["a"]}
    with pytest.raises(ValidationError, match="as many rows"):
        protocol.InferRequest.model_validate(body)


@pytest.mark.parametrize(
    "breaks",
    [
        lambda a: a["outputs"][0].update(data=[0.25]),  # a row short
        lambda a: a["outputs"][0].update(data=[0.25, 1.5]),  # not a probability
        lambda a: a["outputs"][1].update(shape=[2, 23]),  # another model's features
        lambda a: a["outputs"][1].update(data=[0.0]),
        lambda a: a.pop("outputs"),
    ],
)
def test_an_answer_that_is_not_one_is_refused(breaks):
    scores = Scores("v7", [0.25, 0.75], [dict.fromkeys(protocol.FEATURES, 0.0)] * 2)
    request = protocol.InferRequest.model_validate(protocol.infer_request(FEATURES))
    answer = protocol.infer_response(scores, request)
    breaks(answer)
    with pytest.raises((KeyError, ValueError)):
        protocol.scores_from(answer, rows=2)


def test_the_gateway_answers_a_502_not_a_500_for_an_answer_it_cannot_read():
    from churnlab.adapters.http_stages import HttpInference
    from churnlab.domain.errors import StageRejectedError

    class Answering:
        def call(self, *_, **__):
            return {"outputs": "not a list of tensors"}

    with pytest.raises(StageRejectedError, match="cannot be read"):
        HttpInference(Answering()).predict(FEATURES)
