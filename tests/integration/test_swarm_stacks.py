"""The Swarm's stacks as `docker stack deploy` merges them (compose/swarm/database.yaml with each
deployment's file): who can reach the database, and what is published. The stacks themselves
run in tests/e2e/swarm."""

from __future__ import annotations

import pytest
import yaml

from runtimes.paths import ROOT

STACKS = ROOT / "compose" / "swarm"
DATABASE = {"db-monitor", "db-a", "db-b"}
DEPLOYMENTS = ["monolith", "micro", "hybrid"]
# Each wiring's one writer of the prediction log: the process that runs ingest.
WRITER = {"monolith": "monolith", "micro": "ingest", "hybrid": "hybrid"}


def merged_services(deployment: str) -> dict[str, dict]:
    services: dict[str, dict] = {}
    for file in ("database.yaml", f"{deployment}.yaml"):
        services |= yaml.safe_load((STACKS / file).read_text())["services"]
    return services


def networks_of(service: dict) -> set[str]:
    return set(service.get("networks", ["default"]))


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_only_the_logs_writers_share_a_network_with_the_database(deployment):
    services = merged_services(deployment)
    database_networks = set.union(*(networks_of(services[name]) for name in DATABASE))
    writers = {
        name
        for name, service in services.items()
        if "CHURNLAB_PREDICTION_LOG_URL" in service.get("environment", {})
    }
    assert writers == {WRITER[deployment]}
    for name, service in services.items():
        if name in DATABASE:
            continue
        shared = networks_of(service) & database_networks
        if name in writers:
            assert shared, f"{name} writes the log but cannot reach the database"
        else:
            assert not shared, f"{name} shares {shared} with the database"


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_the_edge_is_the_only_published_service(deployment):
    published = {
        name for name, service in merged_services(deployment).items() if "ports" in service
    }
    assert published == {"edge"}


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_the_logs_writers_connect_over_checked_tls_with_a_password_of_their_own(deployment):
    services = merged_services(deployment)
    writer = services[WRITER[deployment]]
    url = dict(
        part.split("=", 1) for part in writer["environment"]["CHURNLAB_PREDICTION_LOG_URL"].split()
    )
    assert url["user"] == "churnlab_ingest"  # not the superuser pg_autoctl makes
    assert url["sslmode"] == "verify-full"
    mounted = {secret["target"]: secret for secret in writer["secrets"] if isinstance(secret, dict)}
    assert url["sslrootcert"] == "/run/secrets/" + mounted["db-ca.crt"]["target"]
    password = mounted["db-writer.pgpass"]
    assert url["passfile"] == "/run/secrets/db-writer.pgpass"
    # libpq ignores a password file that others may read; the app runs as 10001.
    assert (password["uid"], password["mode"]) == ("10001", 0o400)


def test_each_database_server_has_a_certificate_of_its_own():
    services = merged_services("micro")
    for name in DATABASE:
        mounted = {s["target"]: s["source"] for s in services[name]["secrets"]}
        assert mounted["db-server.crt"] == f"{name}-crt"
        assert mounted["db-server.key"] == f"{name}-key"
        assert mounted["db-ca.crt"] == "db-ca"
    declared = yaml.safe_load((STACKS / "database.yaml").read_text())["secrets"]
    assert not any("ca.key" in secret["file"] for secret in declared.values())


@pytest.mark.parametrize("role", ["data", "monitor"])
def test_over_the_network_only_tls_and_a_scram_password_get_in(role):
    """The database's pg_hba.conf: no trust and no plain host rule but the container's own
    socket, so every client on the network is checked."""
    rules = [
        line.split("#")[0].split()
        for line in (ROOT / "cluster" / "postgres" / f"{role}.hba").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert rules
    for rule in rules:
        if rule[0] == "local":
            continue
        assert rule[0] == "hostssl", rule
        assert rule[-1] == "scram-sha-256", rule
        assert "all" not in rule[1:3], rule  # each role to its own database
