"""Fixtures shared by the whole suite: real data, the real model, a monolith app per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from churnlab.config import Settings
from churnlab.domain.schema import CustomerRecord
from runtimes.http import wait_predicting
from runtimes.paths import ROOT

MODEL_DIR = ROOT / "models" / "current"

# Shorter than the defaults so the tests finish quickly; the behaviour is the same.
TEST_SETTINGS = {
    "CHURNLAB_STAGE_READ_TIMEOUT_SECONDS": "0.5",
    # Longer than ingest's own write timeout would be, as by default (2.5 s).
    "CHURNLAB_INGEST_READ_TIMEOUT_SECONDS": "1.0",
    "CHURNLAB_BREAKER_FAILURES": "3",
    "CHURNLAB_BREAKER_RESET_SECONDS": "2",
    "CHURNLAB_REPLAY_EVERY_SECONDS": "0.5",
    "CHURNLAB_LOG_LEVEL": "INFO",
}
DATASET = ROOT / "data" / "telco_customer_churn.csv"


def pytest_configure(config: pytest.Config) -> None:
    if not (MODEL_DIR / "model_card.json").is_file():
        pytest.exit("no model: run `make model` (make test does it for you)", returncode=2)


@pytest.fixture(scope="session")
def dataset():
    from churnlab.ml.data import load_dataset

    return load_dataset(DATASET)


@pytest.fixture(scope="session")
def dataset_records(dataset) -> list[dict]:
    """Every customer in the data as the public API's JSON body."""
    records, _ = dataset
    return records.to_dict("records")


@pytest.fixture
def record_body(dataset_records) -> dict:
    """A valid request body: a real new customer (tenure 1, month-to-month, electronic check)."""
    return dict(dataset_records[0])


@pytest.fixture
def customer(record_body) -> CustomerRecord:
    return CustomerRecord.model_validate(record_body)


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A private copy of the model artifact that a test may tamper with."""
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR.resolve(), target)
    return target


@pytest.fixture
def settings(tmp_path) -> Settings:
    """A monolith's settings on a log of its own; retention runs only where a test runs it."""
    return Settings(
        model_dir=MODEL_DIR,
        prediction_log_path=tmp_path / "prediction_log.sqlite3",
        retention_every_seconds=0,
    )


@pytest.fixture
def monolith_app(settings):
    from monolith.app import create_app

    app = create_app(settings)
    assert app.extensions["churnlab.workflow"].inference.wait(30), "model did not load"
    return app


@pytest.fixture
def client(monolith_app):
    return monolith_app.test_client()


@pytest.fixture
def prediction_log(monolith_app):
    return monolith_app.extensions["churnlab.workflow"].ingest.prediction_log


def docker_available() -> bool:
    import subprocess

    probe = "docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1"
    return subprocess.run(["bash", "-c", probe], check=False).returncode == 0


@pytest.fixture(scope="session")
def require_docker() -> None:
    """Skip without an engine, except where REQUIRE_DOCKER=1 (CI) makes that a failure."""
    if docker_available():
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail("REQUIRE_DOCKER=1 but no Docker engine with Compose v2 answers")
    pytest.skip("no Docker engine with Compose v2 (set REQUIRE_DOCKER=1 to make this fail)")


# --- running deployments, shared by the contract and resilience suites ------------------------


@pytest.fixture(scope="session")
def local_monolith(tmp_path_factory, dataset_records):
    """The monolith as local processes behind the edge (HAProxy), as `make up-monolith`."""
    from runtimes.local import local_deployment

    with local_deployment(
        "monolith", tmp_path_factory.mktemp("monolith"), **TEST_SETTINGS
    ) as running:
        wait_predicting(running.url, dataset_records[0])
        yield running


@pytest.fixture(scope="session")
def local_micro(tmp_path_factory, dataset_records):
    """The microservices as local processes behind the edge, three inference replicas."""
    from runtimes.local import local_deployment

    with local_deployment("micro", tmp_path_factory.mktemp("micro"), **TEST_SETTINGS) as running:
        wait_predicting(running.url, dataset_records[0])
        yield running


@pytest.fixture(scope="session")
def local_hybrid(tmp_path_factory, dataset_records):
    """The hybrid as local processes behind the edge: the API, and two inference replicas."""
    from runtimes.local import local_deployment

    with local_deployment("hybrid", tmp_path_factory.mktemp("hybrid"), **TEST_SETTINGS) as running:
        wait_predicting(running.url, dataset_records[0])
        yield running


@pytest.fixture(scope="session")
def docker_monolith(require_docker, dataset_records):
    from runtimes.compose import compose_deployment

    with compose_deployment("monolith") as deployment:
        wait_predicting(deployment.url, dataset_records[0])
        yield deployment


@pytest.fixture(scope="session")
def docker_micro(require_docker, dataset_records):
    """The containerized microservices with two inference replicas."""
    yield from with_two_inference_replicas("micro", dataset_records[0])


@pytest.fixture(scope="session")
def docker_hybrid(require_docker, dataset_records):
    """The containerized hybrid: the API, and the model tier as two inference replicas."""
    yield from with_two_inference_replicas("hybrid", dataset_records[0])


def with_two_inference_replicas(name: str, record: dict) -> Iterator:
    """A Compose deployment whose model tier runs two replicas, predicting; down afterwards."""
    from runtimes.compose import compose_deployment
    from tests.e2e.docker.docker_compose import wait_healthy

    with compose_deployment(name) as deployment:
        deployment.compose(
            "up", "-d", "--no-build", "--no-recreate", "--scale", "inference=2", "--wait"
        )
        wait_healthy(deployment, "inference", replicas=2)
        wait_predicting(deployment.url, record)
        yield deployment
