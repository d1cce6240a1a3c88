"""Thousands of malformed requests: never a 5xx, always problem+json, nothing accepted lost."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnlab.api.problems import PROBLEM_JSON
from churnlab.config import Settings
from tests.conftest import MODEL_DIR

EXAMPLES = 1_000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CLIENT_ERRORS = {400, 404, 405, 413, 415, 422}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from monolith.app import create_app

    log_path = tmp_path_factory.mktemp("fuzz") / "log.sqlite3"
    app = create_app(Settings(model_dir=MODEL_DIR, prediction_log_path=log_path))
    assert app.extensions["churnlab.workflow"].inference.wait(30)
    return app


class Tally:
    """Counts 200s so the test can compare them with the prediction log."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.log = app.extensions["churnlab.workflow"].ingest.prediction_log
        self.accepted = self.log.count()

    def send(self, method: str, path: str, **kwargs):
        response = self.client.open(path, method=method, **kwargs)
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code == 200:
            if method == "POST" and path.startswith("/v1/predict"):
                self.accepted += response.get_json().get("count", 1)
        else:
            assert response.status_code in CLIENT_ERRORS
            assert response.mimetype == PROBLEM_JSON
            problem = json.loads(response.get_data())
            assert problem["status"] == response.status_code
        assert self.log.count() == self.accepted
        return response


@pytest.fixture(scope="module")
def tally(fuzz_app) -> Tally:
    return Tally(fuzz_app)


@FUZZ
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/json; charset=latin-1"]
    ),
    path=st.sampled_from(["/v1/predict", "/v1/predict/batch", "/v1/model", "/v1/nope", "/livez"]),
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH"]),
)
def test_random_bytes_anywhere(tally, body, content_type, path, method):
    tally.send(method, path, data=body, content_type=content_type)


@FUZZ
@given(payload=json_values, path=st.sampled_from(["/v1/predict", "/v1/predict/batch"]))
def test_random_json_documents(tally, payload, path):
    tally.send("POST", path, data=json.dumps(payload), content_type="application/json")


@FUZZ
@given(data=st.data())
def test_valid_records_with_fields_mutated(tally, dataset_records, data):
    record = dict(data.draw(st.sampled_from(dataset_records[:200])))
    for field in data.draw(st.lists(st.sampled_from(sorted(record)), max_size=3, unique=True)):
        if data.draw(st.booleans()):
            record[field] = data.draw(json_values)
        else:
            del record[field]
    if data.draw(st.booleans()):
        record[data.draw(st.text(max_size=8))] = data.draw(json_values)
    # Encoded with the standard library: it takes integers of any size, as a client might send.
    if data.draw(st.booleans()):
        path, payload = "/v1/predict/batch", {"records": [record]}
    else:
        path, payload = "/v1/predict", record
    tally.send("POST", path, data=json.dumps(payload), content_type="application/json")
