"""Every public endpoint of the monolith, with good and bad input."""

import json

import pytest

from churnlab.api.problems import PROBLEM_JSON


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


# --- POST /v1/predict -------------------------------------------------------------------------


def test_predict_returns_the_full_prediction_and_records_it(client, record_body, prediction_log):
    response = client.post("/v1/predict", json=record_body)
    assert response.status_code == 200
    body = response.get_json()
    assert body["customer_id"] == "7590-VHVEG"
    assert 0.5 < body["churn_probability"] < 1  # a month-old, month-to-month customer
    assert body["churn"] is True
    assert body["risk"] == "high"
    assert {reason["feature"] for reason in body["reasons"]} >= {"tenure", "contract"}
    assert body["model_version"] == client.get("/v1/model").get_json()["version"]
    assert (body["recorded"], body["copies"]) == (True, 1)
    assert response.headers["X-Request-ID"] == body["request_id"]
    logged = prediction_log.get(body["prediction_id"])
    assert logged["request_id"] == body["request_id"]
    assert (logged["churn_probability"], logged["churn"]) == (body["churn_probability"], True)
    assert logged["reasons"] == body["reasons"]
    assert logged["record"] == record_body


def test_predict_keeps_a_callers_request_id(client, record_body, prediction_log):
    response = client.post("/v1/predict", json=record_body, headers={"X-Request-ID": "trace-42"})
    assert response.get_json()["request_id"] == "trace-42"
    assert response.headers["X-Request-ID"] == "trace-42"


def test_a_malformed_request_id_is_replaced(client, record_body):
    response = client.post("/v1/predict", json=record_body, headers={"X-Request-ID": "a b\x7f"})
    assert response.headers["X-Request-ID"] != "a b\x7f"
    assert len(response.headers["X-Request-ID"]) == 32


def test_predict_accepts_a_null_total_charges(client, record_body):
    record_body["total_charges"] = None
    assert client.post("/v1/predict", json=record_body).status_code == 200


def test_predict_rejects_malformed_json_with_400(client, prediction_log):
    body = assert_problem(
        client.post("/v1/predict", data='{"tenure": ', content_type="application/json"), 400
    )
    assert "not valid JSON" in body["detail"]
    assert prediction_log.count() == 0


def test_predict_rejects_an_empty_body_with_400(client):
    assert_problem(client.post("/v1/predict", data=b"", content_type="application/json"), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_predict_rejects_other_content_types_with_415(client, record_body, content_type):
    response = client.post("/v1/predict", data=json.dumps(record_body), content_type=content_type)
    assert_problem(response, 415)


def test_predict_rejects_a_body_over_the_limit_with_413(client, record_body):
    record_body["customer_id"] = "x" * 70_000
    assert_problem(client.post("/v1/predict", json=record_body), 413)


def test_predict_lists_every_invalid_field_with_422(client, record_body, prediction_log):
    record_body.update(tenure="12", contract="Forever", surprise=True)
    body = assert_problem(client.post("/v1/predict", json=record_body), 422)
    assert body["type"] == "urn:churnlab:problem:validation-error"
    assert {e["field"]: e["type"] for e in body["errors"]} == {
        "tenure": "int_type",
        "contract": "literal_error",
        "surprise": "extra_forbidden",
    }
    assert "Forever" not in json.dumps(body)  # values are not echoed back
    assert prediction_log.count() == 0


@pytest.mark.parametrize("payload", [[], "text", 42, None, [{"customer_id": "x"}]])
def test_predict_rejects_json_that_is_not_an_object_with_422(client, payload):
    body = json.dumps(payload)
    assert_problem(client.post("/v1/predict", data=body, content_type="application/json"), 422)


# --- POST /v1/predict/batch -------------------------------------------------------------------


def test_batch_scores_every_record_in_order(client, dataset_records, prediction_log):
    records = dataset_records[:250]
    response = client.post("/v1/predict/batch", json={"records": records})
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 250
    assert [p["customer_id"] for p in body["predictions"]] == [r["customer_id"] for r in records]
    assert prediction_log.count() == 250


def test_batch_probabilities_equal_single_predictions(client, dataset_records):
    records = dataset_records[100:120]
    batch = client.post("/v1/predict/batch", json={"records": records}).get_json()
    singles = [client.post("/v1/predict", json=r).get_json() for r in records]
    assert [p["churn_probability"] for p in batch["predictions"]] == [
        s["churn_probability"] for s in singles
    ]


def test_batch_of_ten_thousand_is_accepted(client, dataset_records, prediction_log):
    records = (dataset_records * 2)[:10_000]
    response = client.post("/v1/predict/batch", json={"records": records})
    assert response.status_code == 200
    assert response.get_json()["count"] == 10_000
    assert prediction_log.count() == 10_000


def test_batch_over_the_limit_is_rejected_whole(client, record_body, prediction_log):
    body = assert_problem(
        client.post("/v1/predict/batch", json={"records": [record_body] * 10_001}), 422
    )
    assert body["errors"][0]["field"] == "records"
    assert prediction_log.count() == 0


def test_one_bad_record_rejects_the_batch_and_names_it(client, record_body, prediction_log):
    bad = dict(record_body, tenure=-5)
    body = assert_problem(
        client.post("/v1/predict/batch", json={"records": [record_body, bad]}), 422
    )
    assert body["errors"] == [
        {
            "field": "records.1.tenure",
            "message": body["errors"][0]["message"],
            "type": "greater_than_equal",
        }
    ]
    assert prediction_log.count() == 0


@pytest.mark.parametrize(
    "payload", [{}, {"records": []}, {"records": "x"}, {"records": [], "extra": 1}, [1, 2]]
)
def test_batch_rejects_bad_envelopes_with_422(client, payload):
    assert_problem(client.post("/v1/predict/batch", json=payload), 422)


def test_batch_rejects_malformed_json_and_wrong_type(client):
    assert_problem(client.post("/v1/predict/batch", data="[", content_type="application/json"), 400)
    assert_problem(client.post("/v1/predict/batch", data="a=1", content_type="text/csv"), 415)


# --- GET endpoints and unknown routes ---------------------------------------------------------


def test_model_card_has_version_metrics_and_schema(client):
    card = client.get("/v1/model").get_json()
    assert card["holdout_metrics"]["roc_auc"] >= 0.84
    assert set(card["holdout_metrics"]) == {"roc_auc", "pr_auc", "brier"}
    assert len(card["training_data"]["sha256"]) == 64
    assert "tenure" in card["feature_schema"]["input"]["properties"]
    assert "reference" not in card


def test_livez_answers_without_checking_anything(client):
    assert client.get("/livez").get_json() == {"status": "alive", "service": "monolith"}


def test_readyz_reports_each_stage(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {
        "ingest": "ready",
        "features": "ready",
        "inference": "ready",
    }


def test_readyz_is_503_and_predict_is_503_when_the_model_is_broken(
    settings, model_copy, record_body
):
    from monolith.app import create_app

    (model_copy / "model.onnx").write_bytes(b"garbage")
    app = create_app(
        settings.__class__(model_dir=model_copy, prediction_log_path=settings.prediction_log_path)
    )
    app.extensions["churnlab.workflow"].inference.wait(10)
    client = app.test_client()
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["inference"] == "not ready"  # no reason unless asked
    assert "sha256" in client.get("/readyz?verbose").get_json()["checks"]["inference"]
    response = client.post("/v1/predict", json=record_body)
    body = assert_problem(response, 503)
    assert body["type"] == "urn:churnlab:problem:model-not-ready"
    assert response.headers["Retry-After"] == "1"


def test_unknown_route_is_a_404_problem(client):
    assert_problem(client.get("/v2/predict"), 404)


def test_wrong_method_is_a_405_problem_with_allow(client):
    response = client.get("/v1/predict")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]
    assert_problem(client.delete("/v1/model"), 405)


def test_a_prediction_log_that_cannot_be_written_gives_503_and_not_ready(tmp_path, record_body):
    """A read-only or full volume: nothing is acknowledged, the answer says why, and readiness
    takes the process out of rotation."""
    from churnlab.config import Settings
    from monolith.app import create_app
    from tests.conftest import MODEL_DIR

    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the log's directory should be")
    app = create_app(
        Settings(
            model_dir=MODEL_DIR,
            prediction_log_path=blocked / "prediction_log.sqlite3",
            retention_every_seconds=0,
        )
    )
    assert app.extensions["churnlab.workflow"].inference.wait(30)
    client = app.test_client()
    response = client.post("/v1/predict", json=record_body)
    assert response.status_code == 503
    assert response.content_type == PROBLEM_JSON
    assert response.json["type"] == "urn:churnlab:problem:storage-unavailable"
    assert response.json["kept"] == "nothing"
    assert "nothing was kept" in response.json["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    ready = client.get("/readyz?verbose")
    assert ready.status_code == 503
    assert ready.json["checks"]["ingest"].startswith("prediction log unavailable")


# --- Server-Timing ----------------------------------------------------------------------------


def timings(response) -> list[tuple[str, float]]:
    """The answer's Server-Timing metrics in order, each with its duration."""
    from churnlab.server_timing import durations, names

    value = response.headers["Server-Timing"]
    found = durations(value)
    return [(name, found[name]) for name in names(value)]


def test_a_prediction_names_each_stage_it_went_through_within_the_app_s_time(client, record_body):
    for path, body in (
        ("/v1/predict", record_body),
        ("/v1/predict/batch", {"records": [record_body] * 50}),
    ):
        metrics = timings(client.post(path, json=body))
        assert [name for name, _ in metrics] == ["app", "features", "inference", "ingest"]
        app, *stages = (milliseconds for _, milliseconds in metrics)
        assert all(milliseconds >= 0 for milliseconds in stages)
        assert sum(stages) <= app


def test_every_other_answer_gives_the_app_s_time_and_the_stages_it_reached(client):
    assert [name for name, _ in timings(client.get("/v1/model"))] == ["app", "inference"]
    refused = client.post("/v1/predict", json={"tenure": "long"})
    assert refused.status_code == 422
    assert [name for name, _ in timings(refused)] == ["app"]
    assert [name for name, _ in timings(client.get("/livez"))] == ["app"]
