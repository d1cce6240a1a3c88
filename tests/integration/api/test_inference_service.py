"""The model tier's API as the inference service serves it: the Open Inference Protocol's REST
form (health, server and model metadata, infer), the model card, and errors that are both
problem+json and the protocol's `{"error": ...}`."""

from __future__ import annotations

import json

import pytest

from churnlab.adapters import inference_protocol as protocol
from churnlab.adapters.local_stages import LocalFeatures
from churnlab.domain.errors import PROBLEM_JSON
from churnlab.domain.inference import ChurnModel
from churnlab.domain.schema import CustomerRecord
from tests.conftest import MODEL_DIR


@pytest.fixture(scope="module")
def service():
    from churnlab.config import Settings
    from services.inference.app import create_app

    app = create_app(Settings(model_dir=MODEL_DIR))
    assert app.extensions["churnlab.stage"].wait(30), "model did not load"
    return app.test_client()


@pytest.fixture
def features(dataset_records) -> dict:
    records = [CustomerRecord.model_validate(r) for r in dataset_records[:5]]
    return LocalFeatures().prepare(records)


def test_health_and_metadata_say_what_is_served(service):
    assert service.get("/v2/health/live").status_code == 200
    assert service.get("/v2/health/ready").status_code == 200
    assert service.get("/v2/models/churn/ready").status_code == 200
    server = service.get("/v2").get_json()
    assert server["name"] == "churnlab-inference"
    assert server["extensions"] == []
    metadata = service.get("/v2/models/churn").get_json()
    card = protocol.card_from(metadata)
    assert (metadata["name"], metadata["versions"]) == ("churn", [card["version"]])
    on_disk = json.loads((MODEL_DIR / "model_card.json").read_text())
    assert card == {key: value for key, value in on_disk.items() if key != "reference"}
    assert [i["name"] for i in metadata["inputs"]] == list(protocol.FEATURES)
    assert [o["name"] for o in metadata["outputs"]] == ["churn_probability", "contributions"]


def test_infer_answers_the_model_s_own_scores(service, features):
    answer = service.post("/v2/models/churn/infer", json=protocol.infer_request(features))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    expected = ChurnModel.load(MODEL_DIR).predict(features)
    assert protocol.scores_from(answer.get_json(), rows=5) == expected


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v2/models/churn/infer", {"inputs": []}, 422),
        ("POST", "/v2/models/other/infer", {"inputs": []}, 404),
        ("GET", "/v2/models/other", None, 404),
        ("GET", "/v2/models/other/ready", None, 404),
    ],
)
def test_errors_are_problems_with_the_protocol_s_error_member(service, method, path, body, status):
    answer = service.open(path, method=method, json=body)
    assert (answer.status_code, answer.mimetype) == (status, PROBLEM_JSON)
    problem = answer.get_json()
    assert problem["error"].startswith(problem["detail"])
    for error in problem.get("errors", []):  # a validation problem's fields, each with why
        assert f"{error['field']}: {error['message']}" in problem["error"]


def test_infer_reads_a_body_without_a_content_type_as_json_and_refuses_another_type(
    service, features
):
    """Triton's client sends its JSON with no Content-Type; a declared other type (the
    protocol's binary tensors) is refused."""
    body = json.dumps(protocol.infer_request(features))
    untyped = service.post("/v2/models/churn/infer", data=body, content_type="")
    assert untyped.status_code == 200, untyped.get_data(as_text=True)
    binary = service.post(
        "/v2/models/churn/infer", data=body, content_type="application/octet-stream"
    )
    assert (binary.status_code, binary.mimetype) == (415, PROBLEM_JSON)


@pytest.mark.parametrize(
    ("feature", "value", "says"),
    [
        ("contract", "Weekly", "categories the model does not know: contract: 'Weekly'"),
        ("tenure", float("nan"), "finite numbers only"),
        ("monthly_charges", 1e39, "finite numbers only"),
    ],
)
def test_a_value_the_model_cannot_score_is_a_422_never_a_500(
    service, features, feature, value, says
):
    """Only a caller of the model tier's own API can send these: the public schema admits none."""
    features[feature][0] = value
    body = json.dumps(protocol.infer_request(features))  # NaN as JSON's NaN token
    answer = service.post("/v2/models/churn/infer", data=body, content_type="application/json")
    assert (answer.status_code, answer.mimetype) == (422, PROBLEM_JSON), answer.get_data(
        as_text=True
    )
    assert says in answer.get_json()["error"]
