"""`make rollout` in each wiring, under load: a new model version replaces what serves the model
(the whole monolith, the split wirings' model tier) with no failed call, and a model that does
not load is refused while the old version goes on answering (in the monolith, after a few
retryable 503s: its bad replica sits behind the edge until the edge's checks fail)."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.bench.model_range import trained
from lab.experiments.deploys import NEW_VERSION, unloadable_model
from runtimes.compose import compose_deployment
from runtimes.http import wait_predicting
from runtimes.paths import ROOT
from runtimes.rollout import MODEL_SERVICE, RolloutError, roll_out
from tests.e2e.load import Load

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def new_model() -> Path:
    """A second version: a small network on the same data (trained once, kept under models/)."""
    return trained(NEW_VERSION)


@pytest.fixture(scope="module")
def bad_model() -> Iterator[Path]:
    """A model file that is not ONNX under the current model's card: it cannot load. Under
    the checkout, as pytest's temporary directories are closed to the containers' user."""
    directory = ROOT / "build" / f"bad-model-{uuid.uuid4().hex}"
    try:
        yield unloadable_model(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module", params=sorted(MODEL_SERVICE))
def deployment(request, require_docker, dataset_records):
    """A deployment of its own: the rollouts change what it serves."""
    with compose_deployment(request.param, project=f"churnlab-rollout-{request.param}") as running:
        wait_predicting(running.url, dataset_records[0])
        yield running


def test_a_new_model_version_rolls_out_under_load_losing_nothing(
    deployment, new_model, record_body
):
    service = MODEL_SERVICE[deployment.file]
    with Load(deployment.url, record_body, seconds=60, rate=40) as load:
        time.sleep(2)
        rollout = roll_out(deployment, service, model_dir=new_model)
        done = time.monotonic()
        time.sleep(2)
        load.stop()
    assert load.failure_rate == 0, load.failures()
    new = new_model.name.removeprefix("churn-")
    assert load.versions[0] != new
    # both answer while the new replicas join; once the old ones are gone, only the new one
    after = [v for v, sent in zip(load.versions, load.sent_at, strict=True) if sent > done]
    assert after, "no call after the rollout"
    assert set(after) == {new}, set(after)
    assert len(deployment.containers(service)) == rollout.replicas
    assert rollout.started < rollout.healthy < rollout.finished


def test_a_model_that_does_not_load_is_refused_and_the_old_one_serves_on(
    deployment, bad_model, record_body
):
    service = MODEL_SERVICE[deployment.file]
    before = {container.id for container in deployment.containers(service)}
    with Load(deployment.url, record_body, seconds=120, rate=40) as load:
        time.sleep(2)
        with pytest.raises(RolloutError, match="not healthy"):
            roll_out(deployment, service, model_dir=bad_model, wait_seconds=60)
        time.sleep(2)
        load.stop()
    if deployment.file == "monolith":
        # The edge counts a new replica in from its name, until its checks fail: the bad
        # monolith answered some calls, each a retryable 503 (1 in 908 here; 16 of 600 due
        # in make compare's run of 2026-12-07). The split wirings' callers take a model
        # replica only once it says it is ready.
        assert load.failures() <= {(503, "application/problem+json")}, load.failures()
        assert load.failure_rate < 0.1, load.failure_rate
    else:
        assert load.failure_rate == 0, load.failures()
    assert len(set(load.versions)) == 1, set(load.versions)
    assert {container.id for container in deployment.containers(service)} == before
