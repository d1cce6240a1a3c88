"""A short headless Locust run against each deployment: zero failures."""

from __future__ import annotations

import pytest

from loadtests.experiments import run_locust


@pytest.fixture(
    params=[
        "local-monolith",
        "local-micro",
        pytest.param("docker-monolith", marks=pytest.mark.docker),
        pytest.param("docker-micro", marks=pytest.mark.docker),
    ]
)
def target_url(request) -> str:
    runtime, arch = request.param.split("-")
    return request.getfixturevalue(f"{runtime}_{arch}").url


def test_short_headless_locust_run_has_no_failures(target_url, tmp_path):
    log = run_locust(target_url, tmp_path / "requests.csv", shape="steady", users=4, seconds=5)
    routes = {request.route for request in log}
    assert routes >= {"/v1/predict", "/v1/model"}
    assert len(log) > 50
    assert [r for r in log if not r.ok] == []
    assert (tmp_path / "requests_stats_history.csv").is_file()
