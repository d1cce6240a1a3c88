"""What the public API promises about records, through the monolith's app: ids of the
server's own, the Idempotency-Key contract, the audit read and erasure behind their key, and
data minimisation."""

from __future__ import annotations

import dataclasses

import pytest

from churnlab.api.problems import PROBLEM_JSON
from monolith.app import create_app

AUDIT_KEY = "test-audit-key-0123456789"


@pytest.fixture
def audit_settings(settings, tmp_path):
    key_file = tmp_path / "audit-key"
    key_file.write_text(AUDIT_KEY + "\n")
    return dataclasses.replace(settings, audit_key_file=key_file)


@pytest.fixture
def audited(audit_settings):
    app = create_app(audit_settings)
    assert app.extensions["churnlab.workflow"].inference.wait(30)
    return app.test_client()


def bearer(key: str = AUDIT_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_reused_request_id_gets_two_records(client, record_body, prediction_log):
    first = client.post("/v1/predict", json=record_body, headers={"X-Request-ID": "reuse-1"})
    other = dict(record_body, tenure=40)
    second = client.post("/v1/predict", json=other, headers={"X-Request-ID": "reuse-1"})
    assert first.json["prediction_id"] != second.json["prediction_id"]
    assert prediction_log.request_counts() == {"reuse-1": 2}
    assert prediction_log.get(second.json["prediction_id"])["record"]["tenure"] == 40


def test_a_single_and_a_batch_whose_ids_once_collided_are_both_kept(
    client, record_body, prediction_log
):
    client.post("/v1/predict", json=record_body, headers={"X-Request-ID": "dup-test-1:0"})
    batch = {"records": [record_body, dict(record_body, tenure=2)]}
    answer = client.post("/v1/predict/batch", json=batch, headers={"X-Request-ID": "dup-test-1"})
    assert answer.status_code == 200
    assert prediction_log.request_counts() == {"dup-test-1:0": 1, "dup-test-1": 2}


def test_the_same_key_and_body_get_the_same_answer_and_one_record(
    client, record_body, prediction_log
):
    headers = {"Idempotency-Key": '"order-7"', "X-Request-ID": "first"}
    first = client.post("/v1/predict", json=record_body, headers=headers)
    retry = client.post(
        "/v1/predict",
        json=dict(reversed(list(record_body.items()))),  # the same request, keys reordered
        headers={"Idempotency-Key": "order-7", "X-Request-ID": "retry"},
    )
    assert first.status_code == retry.status_code == 200
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["X-Request-ID"] == "retry"  # this call's correlation id
    assert prediction_log.request_counts() == {"first": 1}


def test_the_same_key_with_another_body_is_a_409_and_records_nothing(
    client, record_body, prediction_log
):
    headers = {"Idempotency-Key": "order-8"}
    client.post("/v1/predict", json=record_body, headers=headers)
    clash = client.post("/v1/predict", json=dict(record_body, tenure=40), headers=headers)
    assert clash.status_code == 409
    assert clash.mimetype == PROBLEM_JSON
    assert clash.json["type"] == "urn:churnlab:problem:idempotency-key-reused"
    batch = client.post("/v1/predict/batch", json={"records": [record_body]}, headers=headers)
    assert batch.status_code == 409  # the same record on another route is another request
    assert prediction_log.count() == 1


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "bad\\slash"])
def test_a_malformed_key_is_a_400(client, record_body, prediction_log, key):
    answer = client.post("/v1/predict", json=record_body, headers={"Idempotency-Key": key})
    assert answer.status_code == 400
    assert answer.mimetype == PROBLEM_JSON
    assert prediction_log.count() == 0


def test_a_batch_replays_whole(client, dataset_records, prediction_log):
    batch = {"records": dataset_records[:20]}
    first = client.post("/v1/predict/batch", json=batch, headers={"Idempotency-Key": "b-1"})
    again = client.post("/v1/predict/batch", json=batch, headers={"Idempotency-Key": "b-1"})
    assert again.json == first.json
    assert prediction_log.count() == 20


def test_audit_and_erasure_are_off_without_a_key(client, record_body):
    answer = client.post("/v1/predict", json=record_body)
    read = client.get(f"/v1/predictions/{answer.json['prediction_id']}", headers=bearer())
    assert read.status_code == 403
    assert read.mimetype == PROBLEM_JSON
    assert client.delete("/v1/customers/7590-VHVEG/predictions").status_code == 403


def test_the_audit_read_needs_the_key(audited, record_body):
    answer = audited.post("/v1/predict", json=record_body, headers={"X-Request-ID": "why-1"})
    path = f"/v1/predictions/{answer.json['prediction_id']}"
    missing = audited.get(path)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert audited.get(path, headers=bearer("wrong-key-0123456789")).status_code == 401
    read = audited.get(path, headers=bearer())
    assert read.status_code == 200
    assert "ingest;dur=" in read.headers["Server-Timing"]  # the log was read
    # Why was this customer flagged: the record, the answer, the model, when and which call.
    assert read.json["record"] == record_body
    assert read.json["request_id"] == "why-1"
    for field in ("churn_probability", "churn", "risk", "reasons", "model_version"):
        assert read.json[field] == answer.json[field]
    assert audited.get("/v1/predictions/nope", headers=bearer()).status_code == 404


def test_erasure_deletes_every_prediction_of_the_customer(audited, record_body):
    kept = audited.post("/v1/predict", json=dict(record_body, customer_id="OTHER-1"))
    gone = [audited.post("/v1/predict", json=record_body).json for _ in range(3)]
    erased = audited.delete("/v1/customers/7590-VHVEG/predictions", headers=bearer())
    assert erased.json == {"customer_id": "7590-VHVEG", "erased": 3}
    assert "ingest;dur=" in erased.headers["Server-Timing"]
    for prediction in gone:
        path = f"/v1/predictions/{prediction['prediction_id']}"
        assert audited.get(path, headers=bearer()).status_code == 404
    path = f"/v1/predictions/{kept.json['prediction_id']}"
    assert audited.get(path, headers=bearer()).status_code == 200
    again = audited.delete("/v1/customers/7590-VHVEG/predictions", headers=bearer())
    assert again.json["erased"] == 0
    assert audited.delete("/v1/customers/7590-VHVEG/predictions").status_code == 401
    invalid = audited.delete("/v1/customers/no%20spaces/predictions", headers=bearer())
    assert invalid.status_code == 400


def test_with_data_minimisation_the_log_keeps_a_keyed_hash(audit_settings, tmp_path, record_body):
    key_file = tmp_path / "customer-id-key"
    key_file.write_bytes(b"a secret of the operator's")
    app = create_app(dataclasses.replace(audit_settings, customer_id_key_file=key_file))
    assert app.extensions["churnlab.workflow"].inference.wait(30)
    client = app.test_client()
    answer = client.post("/v1/predict", json=record_body, headers={"Idempotency-Key": "m-1"})
    assert answer.json["customer_id"] == "7590-VHVEG"  # the caller sees its own id
    logged = client.get(f"/v1/predictions/{answer.json['prediction_id']}", headers=bearer())
    stored = logged.json["customer_id"]
    assert stored != "7590-VHVEG"
    assert len(stored) == 64
    assert logged.json["record"]["customer_id"] == stored
    log_file = audit_settings.prediction_log_path
    assert (
        b"7590-VHVEG"
        not in log_file.read_bytes() + log_file.with_name(log_file.name + "-wal").read_bytes()
    )
    replay = client.post("/v1/predict", json=record_body, headers={"Idempotency-Key": "m-1"})
    assert replay.json == answer.json  # a replay still answers with the caller's id
    erased = client.delete("/v1/customers/7590-VHVEG/predictions", headers=bearer())
    assert erased.json["erased"] == 1
