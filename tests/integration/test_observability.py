"""The opt-in dashboards: a valid Prometheus config, and Grafana queries that match metrics the
services really export."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

OBSERVABILITY = ROOT / "compose" / "observability"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "churnlab.json"
# Series Prometheus makes itself rather than scraping them.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {"sum", "by", "rate", "histogram_quantile", "le", "service", "status", "job"}


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names(expression: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expression)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels))
    return {name for name in names if name not in PROMQL_WORDS}


def exported_samples(client) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in client.get("/metrics").get_data(as_text=True).splitlines()
        if line and not line.startswith("#")
    }


def test_prometheus_config_is_valid():
    if shutil.which("promtool") is None:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail("promtool missing (Debian package prometheus); .ci/run installs it")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    result = subprocess.run(
        ["promtool", "check", "config", str(OBSERVABILITY / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_service():
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"monolith", "gateway", "ingest", "features", "inference"}


def test_every_dashboard_query_uses_metrics_the_services_export(client, record_body):
    assert client.post("/v1/predict", json=record_body).status_code == 200
    exported = exported_samples(client)
    used = set().union(*(metric_names(expression) for expression in expressions()))
    assert used - PROMETHEUS_OWN, "the dashboard queries no ChurnLab metric"
    assert used - PROMETHEUS_OWN <= exported, (used - PROMETHEUS_OWN) - exported


def test_dashboard_covers_rate_errors_latency_and_up():
    joined = " ".join(expressions())
    assert "churnlab_http_requests_total" in joined
    assert 'status=~"5.."' in joined
    assert "histogram_quantile(0.99" in joined
    assert "histogram_quantile(0.5" in joined
    assert "up" in metric_names(joined)


def test_dashboard_uses_the_provisioned_datasource():
    datasource = yaml.safe_load(
        (OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert uids == {datasource["uid"]}
    assert datasource["url"] == "http://prometheus:9090"


def test_the_observability_profile_is_opt_in():
    for file in ("micro", "monolith"):
        compose = yaml.safe_load((ROOT / "compose" / f"{file}.yaml").read_text())
        for service in ("prometheus", "grafana"):
            assert compose["services"][service]["profiles"] == ["observability"]
    assert Path(OBSERVABILITY / "services.yaml").is_file()
