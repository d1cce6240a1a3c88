"""One contract, three wirings: the same requests get the same answers from the monolith, the
microservices' gateway and the hybrid API (same probabilities, same errors for the same bad
inputs).

Runs against local processes always, and against the containers too when Docker is there
(required in CI with REQUIRE_DOCKER=1).
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from runtimes.shell import audit_key
from tests import raw_http

TIMEOUT = 10
PROBLEM_JSON = "application/problem+json"
WIRINGS = ("monolith", "micro", "hybrid")
# The stages each wiring calls over HTTP: Server-Timing names each such hop's inside time.
REMOTE_STAGES = {
    "monolith": [],
    "micro": ["features", "inference", "ingest"],
    "hybrid": ["inference"],
}


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def urls(request) -> dict[str, str]:
    return {wiring: request.getfixturevalue(f"{request.param}_{wiring}").url for wiring in WIRINGS}


def each(urls: dict[str, str], method: str, path: str, **kwargs) -> dict[str, requests.Response]:
    return {
        name: requests.request(method, url + path, timeout=TIMEOUT, **kwargs)
        for name, url in urls.items()
    }


def alike(answers: dict[str, requests.Response]) -> dict:
    """The one body every wiring answered, after checking that each answered it, with the same
    status."""
    statuses = {name: response.status_code for name, response in answers.items()}
    assert len(set(statuses.values())) == 1, statuses
    bodies = {name: response.json() for name, response in answers.items()}
    assert all(body == bodies["monolith"] for body in bodies.values()), bodies
    return bodies["monolith"]


def comparable(body: dict) -> dict:
    """A prediction without what differs by design between two calls (the generated ids)."""
    return {key: value for key, value in body.items() if key not in {"request_id", "prediction_id"}}


def test_same_predictions_for_the_same_customers(urls, dataset_records):
    for record in dataset_records[:40]:
        answers = each(urls, "POST", "/v1/predict", json=record)
        assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(urls, 200), {
            name: r.text[:300] for name, r in answers.items()
        }
        monolith, *others = (comparable(answer.json()) for answer in answers.values())
        assert all(other == monolith for other in others)
        assert monolith["recorded"] is True
        assert monolith["copies"] >= 1


def test_same_batch_predictions(urls, dataset_records):
    answers = each(urls, "POST", "/v1/predict/batch", json={"records": dataset_records[:300]})
    assert {r.status_code for r in answers.values()} == {200}
    predictions = {
        name: [comparable(p) for p in r.json()["predictions"]] for name, r in answers.items()
    }
    assert all(p == predictions["monolith"] for p in predictions.values())
    assert {r.json()["count"] for r in answers.values()} == {300}


def test_caller_request_id_is_kept_by_each(urls, record_body):
    for name, url in urls.items():
        request_id = f"contract-{name}-id"
        response = requests.post(
            f"{url}/v1/predict",
            json=record_body,
            timeout=TIMEOUT,
            headers={"X-Request-ID": request_id},
        )
        assert response.headers["X-Request-ID"] == request_id
        assert response.json()["request_id"] == request_id


def test_the_same_key_gets_the_same_answer_and_another_body_a_409(urls, record_body):
    key = f"contract-{uuid.uuid4().hex}"
    clashes = {}
    for name, url in urls.items():
        first = requests.post(
            f"{url}/v1/predict", json=record_body, timeout=TIMEOUT, headers={"Idempotency-Key": key}
        )
        retry = requests.post(
            f"{url}/v1/predict", json=record_body, timeout=TIMEOUT, headers={"Idempotency-Key": key}
        )
        assert first.status_code == retry.status_code == 200, (name, first.text, retry.text)
        assert retry.json() == first.json(), name
        assert retry.headers["Idempotent-Replayed"] == "true", name
        clashes[name] = requests.post(
            f"{url}/v1/predict",
            json=dict(record_body, tenure=record_body["tenure"] + 1),
            timeout=TIMEOUT,
            headers={"Idempotency-Key": key},
        )
    assert alike(clashes)["status"] == 409
    assert {r.headers["Content-Type"] for r in clashes.values()} == {PROBLEM_JSON}


def test_an_answer_can_be_read_back_then_erased_with_the_audit_key(urls, record_body):
    auth = {"Authorization": f"Bearer {audit_key()}"}
    for name, url in urls.items():
        customer = dict(record_body, customer_id=f"C-{name}-{uuid.uuid4().hex[:12]}")
        answer = requests.post(
            f"{url}/v1/predict", json=customer, timeout=TIMEOUT, headers={"X-Request-ID": "why"}
        ).json()
        path = f"{url}/v1/predictions/{answer['prediction_id']}"
        assert requests.get(path, timeout=TIMEOUT).status_code == 401, name
        read = requests.get(path, timeout=TIMEOUT, headers=auth)
        assert read.status_code == 200, (name, read.text)
        assert read.json()["record"] == customer
        assert (read.json()["request_id"], read.json()["risk"]) == ("why", answer["risk"])
        erased = requests.delete(
            f"{url}/v1/customers/{customer['customer_id']}/predictions",
            timeout=TIMEOUT,
            headers=auth,
        )
        assert erased.json()["erased"] == 1, (name, erased.text)
        assert requests.get(path, timeout=TIMEOUT, headers=auth).status_code == 404, name


def test_a_reused_request_id_or_a_colliding_one_loses_no_record(urls, record_body):
    """The bug: two requests under one X-Request-ID (or a single whose id was a batch's
    `<id>:<index>`) were both answered "recorded", and one was not. Each is read back."""
    auth = {"Authorization": f"Bearer {audit_key()}"}
    for name, url in urls.items():
        reused = f"reuse-{uuid.uuid4().hex[:8]}"
        answers = [
            requests.post(f"{url}/v1/predict", json=record_body, timeout=TIMEOUT,
                          headers={"X-Request-ID": request_id}).json()
            for request_id in (reused, reused, f"{reused}:0")
        ]  # fmt: skip
        batch = requests.post(
            f"{url}/v1/predict/batch",
            json={"records": [record_body, record_body]},
            timeout=TIMEOUT,
            headers={"X-Request-ID": reused},
        ).json()["predictions"]
        ids = [a["prediction_id"] for a in answers + batch]
        assert len(set(ids)) == 5, (name, ids)
        for prediction_id in ids:
            read = requests.get(
                f"{url}/v1/predictions/{prediction_id}", timeout=TIMEOUT, headers=auth
            )
            assert read.status_code == 200, (name, prediction_id, read.text)


BAD_REQUESTS = [
    (
        "malformed json",
        "/v1/predict",
        {"data": '{"tenure": ', "headers": {"Content-Type": "application/json"}},
    ),
    ("empty body", "/v1/predict", {"data": "", "headers": {"Content-Type": "application/json"}}),
    (
        "wrong content type",
        "/v1/predict",
        {"data": "tenure=1", "headers": {"Content-Type": "text/plain"}},
    ),
    ("not an object", "/v1/predict", {"json": [1, 2, 3]}),
    ("too large", "/v1/predict", {"json": {"customer_id": "x" * 70_000}}),
    ("batch too large", "/v1/predict/batch", {"json": {"records": [{}] * 10_001}}),
    ("batch empty", "/v1/predict/batch", {"json": {"records": []}}),
]


@pytest.mark.parametrize(("case", "path", "kwargs"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_same_errors_for_the_same_bad_input(urls, case, path, kwargs):
    answers = each(urls, "POST", path, **kwargs)
    assert 400 <= alike(answers)["status"] < 500
    for response in answers.values():
        assert response.headers["Content-Type"] == "application/problem+json"


def test_same_field_errors_for_an_invalid_record(urls, record_body):
    invalid = dict(record_body, tenure=-1, contract="Forever", surprise=True)
    problem = alike(each(urls, "POST", "/v1/predict", json=invalid))
    assert problem["status"] == 422
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"tenure", "contract", "surprise"}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v2/nothing"), ("GET", "/v1/predict"), ("DELETE", "/v1/model")]
)
def test_same_404_and_405(urls, method, path):
    assert alike(each(urls, method, path))["status"] in {404, 405}


def test_same_model_card_and_openapi(urls):
    for path in ("/v1/model", "/openapi.json"):
        assert alike(each(urls, "GET", path))


def test_probes_and_metrics_on_each(urls):
    for name, url in urls.items():
        assert requests.get(f"{url}/livez", timeout=TIMEOUT).json()["status"] == "alive"
        ready = requests.get(f"{url}/readyz", timeout=TIMEOUT).json()
        assert ready["status"] == "ready", (name, ready)
        assert set(ready["checks"]) == {"ingest", "features", "inference"}
        # Nothing internal on the public port: no metrics, and no reasons even when asked.
        metrics = requests.get(f"{url}/metrics", timeout=TIMEOUT)
        assert (metrics.status_code, metrics.headers["Content-Type"]) == (404, PROBLEM_JSON)
        assert requests.get(f"{url}/readyz?verbose", timeout=TIMEOUT).json() == ready
        # However the path is spelt: the app decodes it once and ignores an empty segment.
        spellings = {"/%6detrics": 404, "//metrics": 400, "//readyz?verbose": 400}
        spellings |= {"/readyz%00?verbose": 400, "/%zz/metrics": 400}
        for spelling, status in spellings.items():
            answer = raw_http.exchange(url, raw_http.get(spelling))
            assert (answer.status, answer.content_type) == (status, PROBLEM_JSON), spelling
        # Nor with a SCRIPT_NAME header, which gunicorn would cut off the front of the path.
        answer = raw_http.exchange(url, raw_http.get("/x/metrics", b"SCRIPT_NAME: /x"))
        assert (answer.status, answer.content_type) == (404, PROBLEM_JSON)
        answer = raw_http.exchange(url, raw_http.get("/x/metrics", b"SCRIPT-NAME: /x"))
        assert (answer.status, answer.content_type) == (404, PROBLEM_JSON)
        answer = raw_http.exchange(url, raw_http.get("/%72eadyz?verbose"))
        assert json.loads(answer.body) == ready
        spec = requests.get(f"{url}/openapi.json", timeout=TIMEOUT).json()
        assert json.dumps(spec).count("/v1/predict") >= 2


def test_each_says_in_server_timing_where_a_prediction_s_time_went(urls, record_body):
    """The same stages by name on each (W3C Server-Timing, as `curl -si` shows it), each within
    the app's time, and the app's within the edge's wait; the microservices add each hop's time
    inside its service (the hybrid, the model's), within the workflow's time for that stage: the
    rest is the hop's."""
    from churnlab.server_timing import durations, names

    stages = ["features", "inference", "ingest"]
    for name, response in each(urls, "POST", "/v1/predict", json=record_body).items():
        assert response.status_code == 200
        value = response.headers["Server-Timing"]
        named = names(value)
        found = durations(value)
        hops = [f"{stage}-service" for stage in REMOTE_STAGES[name]]
        assert set(named) == {"app", *stages, *hops, "edge-queue", "edge-connect", "edge-upstream"}
        assert [metric for metric in named if metric in stages] == stages
        assert sum(found[stage] for stage in stages) <= found["app"]
        assert found["app"] <= found["edge-upstream"] + 1  # the edge counts whole milliseconds
        for stage in REMOTE_STAGES[name]:
            assert found[f"{stage}-service"] <= found[stage]
    for response in each(urls, "TRACE", "/v1/model").values():
        assert response.status_code == 405
        assert response.headers["Server-Timing"] == 'edge;desc="answered by the edge"'
