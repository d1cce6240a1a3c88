"""Short headless Locust runs against each deployment: zero failures, in both loops."""

from __future__ import annotations

import os

from lab.load.locust import GENERATOR_NICENESS, run_locust


def test_a_short_closed_loop_run_has_no_failures(any_deployment_url, tmp_path):
    run = run_locust(
        any_deployment_url, tmp_path / "requests.csv", shape="steady", seconds=5, users=4
    )
    routes = {request.route for request in run.requests}
    assert routes >= {"/v1/predict", "/v1/model"}
    assert len(run.requests) > 50
    assert [r for r in run.requests if not r.ok] == []
    assert (tmp_path / "requests_stats_history.csv").is_file()


def test_an_open_loop_run_offers_its_rate_whatever_the_answers(any_deployment_url, tmp_path):
    run = run_locust(
        any_deployment_url,
        tmp_path / "requests.csv",
        loop="open",
        shape="rates",
        seconds=6,
        rates="40",
        step_seconds=6,
    )
    assert [r for r in run.requests if not r.ok] == []
    sent = len(run.requests) / 6
    assert 25 <= sent <= 60, sent  # Poisson arrivals at 40 a second, for six seconds
    assert all(r.late_ms >= 0 for r in run.requests)
    assert run.generator_cpu_seconds > 0
    # Ahead of other processes on its CPU where it may be (root), as the README says; niceness
    # is relative to ours, and the kernel's floor is -20.
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    expected = max(ours + GENERATOR_NICENESS, -20) if os.geteuid() == 0 else ours
    assert run.niceness == expected
