"""The live view's configuration: a valid Prometheus config and rules, and console and Grafana
queries over metrics the services really export. tests/e2e/docker/test_live_view.py runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from runtimes.paths import ROOT

OBSERVABILITY = ROOT / "compose" / "observability"
ALERT_TESTS = Path(__file__).parent / "observability" / "alerts_test.yml"  # promtool's format
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "churnlab.json"
RULES = OBSERVABILITY / "rules.yml"
CONSOLE = OBSERVABILITY / "consoles" / "churnlab.html"
# Series Prometheus makes itself rather than scraping them.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {
    "sum",
    "max",
    "predict_linear",
    "instance",
    "volume",
    "count",
    "by",
    "rate",
    "histogram_quantile",
    "le",
    "service",
    "status",
    "job",
}


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


def promtool(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("promtool") is None:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail("promtool missing (Debian package prometheus); .ci/run installs it")
        pytest.skip("promtool not installed (scripts/install-tools.sh prometheus)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True)


def test_prometheus_config_and_rules_are_valid():
    checked = promtool("check", "config", str(OBSERVABILITY / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "rules.yml" in checked.stdout + checked.stderr  # the rules were checked with it


def test_the_alerts_fire_when_they_should_and_not_otherwise():
    tested = promtool("test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_test_and_reads_metrics_the_services_export(
    client, monolith_app, record_body
):
    assert client.post("/v1/predict", json=record_body).status_code == 200
    monolith_app.extensions["churnlab.workflow"].ingest.maintain(86_400, 0)  # sets the gauges
    from churnlab.metrics import REPLICATION_LAG_SECONDS, SYNC_STANDBYS  # PostgreSQL only

    SYNC_STANDBYS.set(1)
    REPLICATION_LAG_SECONDS.set(0)
    exported = exported_samples(client)
    alerts = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"][0]["rules"]
    used = set().union(*(metric_names(alert["expr"]) for alert in alerts)) - PROMETHEUS_OWN
    assert used <= exported, used - exported
    tests = ALERT_TESTS.read_text()
    assert all(f"alertname: {alert['alert']}" in tests for alert in alerts)


def test_prometheus_scrapes_every_service_and_the_edge():
    """A job for every service of every wiring's Compose file, but the trace view and
    Grafana (which export no metrics of ours)."""
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    services = set().union(
        *(
            yaml.safe_load((ROOT / "compose" / f"{wiring}.yaml").read_text())["services"]
            for wiring in ("monolith", "micro", "hybrid")
        )
    )
    assert jobs == services - {"traces", "grafana"}
    assert {"edge", "monolith", "gateway", "hybrid", "inference", "prometheus"} <= jobs


def test_rules_read_metrics_the_services_export(client, record_body):
    assert client.post("/v1/predict", json=record_body).status_code == 200
    exported = exported_samples(client)
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    churnlab = set().union(*(metric_names(r["expr"]) for r in rules)) - PROMETHEUS_OWN
    churnlab = {name for name in churnlab if not name.startswith("haproxy_")}
    assert churnlab, "the rules read no ChurnLab metric"
    assert churnlab <= exported, churnlab - exported


def test_the_console_shows_what_the_rules_record():
    recorded = {rule["record"] for rule in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]}
    page = CONSOLE.read_text()
    assert all(name in page for name in recorded), recorded
    for job in ("edge", "monolith", "gateway", "ingest", "features", "inference"):
        assert f'{{{{ template "churnlab_row" "{job}" }}}}' in page


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


def test_the_live_view_and_grafana_are_opt_in():
    for file in ("micro", "monolith"):
        compose = yaml.safe_load((ROOT / "compose" / f"{file}.yaml").read_text())
        assert compose["services"]["prometheus"]["profiles"] == ["live", "grafana"]
        assert compose["services"]["grafana"]["profiles"] == ["grafana"]
    assert Path(OBSERVABILITY / "services.yaml").is_file()
