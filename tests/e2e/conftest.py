"""Fixtures of the end-to-end tests: the running deployments are in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(
    scope="module",
    params=[
        "local-monolith",
        "local-micro",
        pytest.param("docker-monolith", marks=pytest.mark.docker),
        pytest.param("docker-micro", marks=pytest.mark.docker),
    ],
)
def any_deployment_url(request) -> str:
    """The edge's URL of each deployment in turn: as local processes, then in containers."""
    runtime, arch = request.param.split("-")
    return request.getfixturevalue(f"{runtime}_{arch}").url
