"""The monolith image and Compose file, for real: build, up, predict, bad input, hardening, down."""

import subprocess
import uuid

import pytest
import requests

from tests.e2e.docker.docker_compose import assert_hardened_behind_the_edge, inspect, names

pytestmark = pytest.mark.docker


def test_container_predicts_and_rejects_bad_input(docker_monolith, record_body):
    url = docker_monolith.url
    good = requests.post(f"{url}/v1/predict", json=record_body, timeout=10)
    assert good.status_code == 200
    assert good.json()["recorded"] is True
    bad = requests.post(f"{url}/v1/predict", json={**record_body, "tenure": "x"}, timeout=10)
    assert bad.status_code == 422
    assert bad.headers["Content-Type"] == "application/problem+json"
    malformed = requests.post(
        f"{url}/v1/predict", data="{", timeout=10, headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert requests.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"


def test_the_labs_null_endpoint_is_off_outside_the_lab(docker_monolith, record_body):
    """Only `make compare`'s deployments switch it on (EDGE_NULL_ENDPOINT=1): here the call
    reaches the app, which knows no such route."""
    answer = requests.post(
        f"{docker_monolith.url}/lab/null/v1/predict", json=record_body, timeout=10
    )
    assert answer.status_code == 404, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_containers_are_hardened_healthy_and_only_the_edge_is_published(docker_monolith):
    assert_hardened_behind_the_edge(docker_monolith)
    for container in docker_monolith.containers():
        assert inspect(container.name)["State"]["Health"]["Status"] == "healthy", container.name
    [monolith] = names(docker_monolith, "monolith")
    assert inspect(monolith)["Config"]["User"] == "10001:10001"


def test_image_carries_no_training_libraries(docker_monolith):
    probe = (
        "import importlib.util as u;"
        "print([m for m in ('sklearn', 'pandas', 'skl2onnx') if u.find_spec(m)])"
    )
    output = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--entrypoint",
            "python3",
            "churnlab/monolith:latest",
            "-c",
            probe,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert output == "[]"


def test_predictions_survive_a_container_restart(docker_monolith, record_body):
    url, request_id = docker_monolith.url, f"survives-restart-{uuid.uuid4().hex}"
    response = requests.post(
        f"{url}/v1/predict", json=record_body, timeout=10, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200
    docker_monolith.compose("restart", "monolith")
    assert docker_monolith.logged_request_ids()[request_id] == 1
