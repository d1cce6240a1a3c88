"""The hybrid in containers: hardened, only the edge published, and the API's image without
the model's runtime (the model tier alone carries it)."""

from __future__ import annotations

import pytest

from tests.e2e.docker.docker_compose import assert_hardened_behind_the_edge
from tests.e2e.docker.test_container_micro import image_modules

pytestmark = pytest.mark.docker


def test_every_container_is_hardened_and_only_the_edge_is_published(docker_hybrid):
    services = {
        container.labels["com.docker.compose.service"] for container in docker_hybrid.containers()
    }
    assert services == {"edge", "hybrid", "inference"}
    assert_hardened_behind_the_edge(docker_hybrid)


def test_the_api_s_image_carries_no_model_runtime(docker_hybrid):
    ml = ("numpy", "onnxruntime", "sklearn", "pandas", "skl2onnx")
    assert image_modules("churnlab/hybrid:latest", ml) == []
    assert image_modules("churnlab/hybrid:latest", ("psycopg", "pybreaker")) == [
        "psycopg",
        "pybreaker",
    ]  # the log's driver for a cluster, and the model tier's client
