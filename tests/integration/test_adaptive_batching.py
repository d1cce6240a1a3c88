"""Adaptive batching under real gunicorn: the monolith's worker and the model tier each join
concurrent predictions into shared model calls, every answer is the one it gets alone, and
/metrics shows the batches formed."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from churnlab.adapters.inference_protocol import infer_request
from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.schema import CustomerRecord
from runtimes.http import model_batches
from runtimes.local import gunicorn

CONCURRENT = 8
# One worker with room for every request at once, whose first request waits for the rest.
BATCHING = {
    "WEB_CONCURRENCY": "1",
    "CHURNLAB_THREADS": str(CONCURRENT),
    "CHURNLAB_BATCHING": "true",
    "CHURNLAB_BATCH_MAX_WAIT_SECONDS": "0.2",
}


def batches_formed(url: str) -> tuple[float, float]:
    """(model calls, of which scored more than one request)."""
    batches = model_batches(url)
    assert batches["requests"] >= batches["calls"]
    return batches["calls"], batches["shared"]


def together(send, bodies: list) -> list:
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


@pytest.mark.parametrize("batching", [False, True], ids=["off", "on"])
def test_the_monolith_s_worker_batches_across_its_threads(tmp_path, dataset_records, batching):
    env = BATCHING if batching else {**BATCHING, "CHURNLAB_BATCHING": "false"}
    bodies = dataset_records[:CONCURRENT]
    with gunicorn("monolith.app:create_app()", tmp_path, **env) as (url, _):

        def predict(body: dict) -> float:
            response = requests.post(f"{url}/v1/predict", json=body, timeout=10)
            assert response.status_code == 200, response.text
            return response.json()["churn_probability"]

        alone = [predict(body) for body in bodies]
        assert together(predict, bodies) == pytest.approx(alone, abs=1e-6)
        calls, shared = batches_formed(url)
    if batching:
        assert shared >= 1, calls
        assert CONCURRENT < calls < 2 * CONCURRENT  # the concurrent eight did not each get one
    else:
        assert calls == 0  # nothing batched, nothing counted


def test_the_model_tier_batches_open_inference_protocol_calls(tmp_path, dataset_records):
    bodies = [
        infer_request(prepare_features(records_to_columns([CustomerRecord(**record)])))
        for record in dataset_records[:CONCURRENT]
    ]
    with gunicorn("services.inference.app:create_app()", tmp_path, **BATCHING) as (url, _):

        def infer(body: dict) -> float:
            response = requests.post(f"{url}/v2/models/churn/infer", json=body, timeout=10)
            assert response.status_code == 200, response.text
            (probability,) = response.json()["outputs"][0]["data"]
            return probability

        alone = [infer(body) for body in bodies]
        assert together(infer, bodies) == pytest.approx(alone, abs=1e-6)
        calls, shared = batches_formed(url)
    assert shared >= 1, calls
    assert calls < 2 * CONCURRENT


@pytest.mark.parametrize(
    "file", ["monolith", "micro", "hybrid", "swarm/monolith", "swarm/micro", "swarm/hybrid"]
)
def test_compose_and_the_swarm_pass_the_batching_settings_on_to_every_model(file):
    """Off unless the user's shell says so: every process holding a model (the monolith, the
    model tier) is passed the three settings without a value of its own, and no other is."""
    import yaml

    from runtimes.paths import ROOT
    from runtimes.swarm import STACK_SETTINGS

    stack = yaml.safe_load((ROOT / "compose" / f"{file}.yaml").read_text())
    passed = {
        name: {k: v for k, v in service.get("environment", {}).items() if "BATCH" in k}
        for name, service in stack["services"].items()
    }
    models = {"monolith", "inference"} & stack["services"].keys()
    assert {name for name, settings in passed.items() if settings} == models
    for name in models:
        assert passed[name] == dict.fromkeys(stack["x-batching"]), name
        assert set(stack["x-batching"]) == {
            "CHURNLAB_BATCHING", "CHURNLAB_BATCH_MAX_ROWS", "CHURNLAB_BATCH_MAX_WAIT_SECONDS"
        }  # fmt: skip
    if file.startswith("swarm/"):
        assert set(stack["x-batching"]) <= set(STACK_SETTINGS)
