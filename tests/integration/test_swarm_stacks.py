"""The Swarm's stacks as `docker stack deploy` merges them (compose/swarm/database.yaml with each
deployment's file): who can reach the database, and what is published. The stacks themselves
run in tests/e2e/swarm."""

from __future__ import annotations

import pytest
import yaml

from runtimes.paths import ROOT

STACKS = ROOT / "compose" / "swarm"
DATABASE = {"db-monitor", "db-a", "db-b"}


def merged_services(deployment: str) -> dict[str, dict]:
    services: dict[str, dict] = {}
    for file in ("database.yaml", f"{deployment}.yaml"):
        services |= yaml.safe_load((STACKS / file).read_text())["services"]
    return services


def networks_of(service: dict) -> set[str]:
    return set(service.get("networks", ["default"]))


@pytest.mark.parametrize("deployment", ["monolith", "micro"])
def test_only_the_logs_writers_share_a_network_with_the_database(deployment):
    services = merged_services(deployment)
    database_networks = set.union(*(networks_of(services[name]) for name in DATABASE))
    writers = {
        name
        for name, service in services.items()
        if "CHURNLAB_PREDICTION_LOG_URL" in service.get("environment", {})
    }
    assert writers == ({"monolith"} if deployment == "monolith" else {"ingest"})
    for name, service in services.items():
        if name in DATABASE:
            continue
        shared = networks_of(service) & database_networks
        if name in writers:
            assert shared, f"{name} writes the log but cannot reach the database"
        else:
            assert not shared, f"{name} shares {shared} with the database"


@pytest.mark.parametrize("deployment", ["monolith", "micro"])
def test_the_edge_is_the_only_published_service(deployment):
    published = {
        name for name, service in merged_services(deployment).items() if "ports" in service
    }
    assert published == {"edge"}
