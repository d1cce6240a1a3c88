"""A short headless Locust run against each deployment: zero failures."""

from __future__ import annotations

from loadtests.experiments import run_locust


def test_short_headless_locust_run_has_no_failures(any_deployment_url, tmp_path):
    log = run_locust(
        any_deployment_url, tmp_path / "requests.csv", shape="steady", users=4, seconds=5
    )
    routes = {request.route for request in log}
    assert routes >= {"/v1/predict", "/v1/model"}
    assert len(log) > 50
    assert [r for r in log if not r.ok] == []
    assert (tmp_path / "requests_stats_history.csv").is_file()
