"""MLServer as the hybrid's model tier (MODEL_SERVER=mlserver), as local processes: the API
cannot tell it from ChurnLab's own inference service. Its answers are the model's, the card
reaches GET /v1/model through the protocol's metadata, readiness comes from the protocol's
model-ready route, and with MLServer's adaptive batching on, concurrent callers each get their
own rows' scores."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.inference import ChurnModel
from churnlab.domain.schema import CustomerRecord
from runtimes.http import wait_predicting
from tests.conftest import MODEL_DIR, TEST_SETTINGS
from tests.e2e.test_micro_resilience import statuses_while_killed, wait_until

# The first run installs MLServer's venv (build/mlserver-venv), a minute or two on a cold
# machine, inside the fixture.
pytestmark = pytest.mark.timeout(900)
BATCHING = {
    "MODEL_SERVER": "mlserver",
    "CHURNLAB_BATCHING": "true",
    "CHURNLAB_BATCH_MAX_WAIT_SECONDS": "0.02",
}


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory, dataset_records):
    from runtimes.local import local_deployment

    with local_deployment(
        "hybrid", tmp_path_factory.mktemp("mlserver"), **TEST_SETTINGS, **BATCHING
    ) as running:
        wait_predicting(running.url, dataset_records[0])
        yield running


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    return ChurnModel.load(MODEL_DIR)


def own_scores(model: ChurnModel, records: list[dict]) -> list[float]:
    columns = records_to_columns([CustomerRecord.model_validate(r) for r in records])
    return model.predict(prepare_features(columns)).churn_probability


def test_the_model_tier_is_mlserver(hybrid):
    server = requests.get(f"{hybrid.stage_url('inference')}/v2", timeout=5).json()
    assert server["name"] == "mlserver"


def test_answers_are_the_model_s_and_recorded(hybrid, model, dataset_records):
    records = dataset_records[:20]
    answers = [
        requests.post(f"{hybrid.url}/v1/predict", json=record, timeout=10).json()
        for record in records
    ]
    assert [a["churn_probability"] for a in answers] == pytest.approx(
        own_scores(model, records), abs=1e-6
    )
    assert all(a["recorded"] and a["reasons"] for a in answers)
    batch = requests.post(
        f"{hybrid.url}/v1/predict/batch", json={"records": dataset_records[:300]}, timeout=30
    )
    assert batch.status_code == 200, batch.text
    assert [p["churn_probability"] for p in batch.json()["predictions"]] == pytest.approx(
        own_scores(model, dataset_records[:300]), abs=1e-6
    )


def test_the_card_comes_through_the_protocol_s_metadata(hybrid):
    card = requests.get(f"{hybrid.url}/v1/model", timeout=5).json()
    on_disk = json.loads((MODEL_DIR / "model_card.json").read_text())
    assert card["version"] == on_disk["version"]
    assert card["holdout_metrics"] == on_disk["holdout_metrics"]


def test_concurrent_callers_each_get_their_own_scores_from_mlserver_s_batches(
    hybrid, model, dataset_records
):
    records = dataset_records[100:132]

    def predict(record: dict) -> float:
        answer = requests.post(f"{hybrid.url}/v1/predict", json=record, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["churn_probability"]

    with ThreadPoolExecutor(16) as pool:
        served = list(pool.map(predict, records))
    assert served == pytest.approx(own_scores(model, records), abs=1e-6)


def test_a_killed_mlserver_replica_costs_no_request(hybrid, record_body):
    assert statuses_while_killed(hybrid, "inference2", record_body) == [200] * 60
    assert wait_until(lambda: requests.get(f"{hybrid.url}/readyz", timeout=2).ok, timeout=60)
