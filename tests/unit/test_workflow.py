"""The workflow's own logic, with in-process stages and fakes where a stage must misbehave."""

import threading

import pytest

from churnlab.adapters.local_stages import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.domain.errors import ModelNotReadyError, StageUnavailableError
from churnlab.workflow import READY, ChurnWorkflow


class DownIngest:
    def record(self, recording):
        raise StageUnavailableError("ingest", "connection refused")

    def readiness(self) -> str:
        return "connection refused"


def test_inprocess_workflow_scores_and_records_the_answer(monolith_app, customer, prediction_log):
    workflow = monolith_app.extensions["churnlab.workflow"]
    answered = workflow.predict([customer], "rid-1")
    [prediction] = answered.predictions
    assert (prediction["request_id"], answered.replayed) == ("rid-1", False)
    assert 0 < prediction["churn_probability"] < 1
    logged = prediction_log.get(prediction["prediction_id"])
    assert logged["request_id"] == "rid-1"
    assert logged["churn_probability"] == prediction["churn_probability"]
    assert logged["model_version"] == prediction["model_version"]


def test_nothing_is_answered_when_it_cannot_be_recorded(monolith_app, customer):
    workflow = monolith_app.extensions["churnlab.workflow"]
    broken = ChurnWorkflow(DownIngest(), LocalFeatures(), workflow.inference)
    with pytest.raises(StageUnavailableError):
        broken.predict([customer], "rid-2")
    assert broken.readiness()["ingest"] == "connection refused"


def test_a_model_that_fails_to_load_is_reported_not_raised(model_copy, tmp_path, customer):
    (model_copy / "model.onnx").write_bytes(b"not a model")
    inference = BackgroundModel(model_copy).start()
    assert inference.wait(10)
    assert "sha256" in inference.readiness()
    with pytest.raises(ModelNotReadyError):
        inference.predict({})


def test_readiness_lists_every_stage(monolith_app):
    readiness = monolith_app.extensions["churnlab.workflow"].readiness()
    assert readiness == {"ingest": READY, "features": READY, "inference": READY}
    assert isinstance(monolith_app.extensions["churnlab.workflow"].ingest, LoggedIngest)


def test_a_prediction_during_model_loading_waits_for_the_model(customer):
    from churnlab.domain.features import prepare_features, records_to_columns
    from tests.conftest import MODEL_DIR

    inference = BackgroundModel(MODEL_DIR)
    assert inference.readiness() == "loading"
    threading.Timer(0.3, inference.start).start()
    scores = inference.predict(prepare_features(records_to_columns([customer])))
    assert 0 < scores.churn_probability[0] < 1
    assert inference.readiness() == READY
