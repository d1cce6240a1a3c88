"""Every configuration the lab runs stays inside the deployments' equal memory budget, read
from the Compose files themselves (two inference replicas once broke it unseen)."""

from __future__ import annotations

import re

import pytest
import yaml

from lab.experiments.budget import MEMORY_MB
from lab.experiments.scaling import MICRO_SPLITS, TWO_OF_EACH, monolith_replicas, redundant
from runtimes.paths import ROOT

SERVICES = {
    "monolith": ("edge", "monolith"),
    "micro": ("edge", "ingest", "features", "inference", "gateway"),
    "hybrid": ("edge", "hybrid", "inference"),
}


def limits(file: str, environment: dict[str, str]) -> dict[str, int]:
    """Each service's memory limit in MiB, with `${NAME:-default}` read as Compose reads it."""
    services = yaml.safe_load((ROOT / "compose" / f"{file}.yaml").read_text())["services"]
    services |= yaml.safe_load((ROOT / "compose" / "edge.yaml").read_text())["services"]
    found = {}
    for name in SERVICES[file]:
        value = str(services[name]["mem_limit"])
        if variable := re.fullmatch(r"\$\{(\w+):-(\w+)\}", value):
            value = environment.get(variable[1], variable[2])
        found[name] = int(value.removesuffix("m"))
    return found


def total(file: str, configuration) -> int:
    memory = limits(file, configuration.environment)
    return sum(mib * configuration.replicas.get(name, 1) for name, mib in memory.items())


def test_one_of_each_and_one_monolith_use_the_whole_budget():
    assert total("micro", MICRO_SPLITS[0]) == MEMORY_MB
    assert total("monolith", monolith_replicas(1, 1)) == MEMORY_MB


@pytest.mark.parametrize("split", MICRO_SPLITS, ids=lambda split: split.name)
def test_every_split_of_the_microservices_fits_the_budget(split):
    assert total("micro", split) == MEMORY_MB


@pytest.mark.parametrize("count", [2, 3])
def test_monolith_replicas_share_its_memory(count):
    assert total("monolith", monolith_replicas(count, 1)) <= MEMORY_MB


def test_the_faults_equal_redundancy_fits_the_budget_on_every_wiring():
    assert total("micro", redundant("micro", 1)) == MEMORY_MB
    assert total("hybrid", redundant("hybrid", 1)) == MEMORY_MB
    assert redundant("hybrid", 1).replicas == {"hybrid": 2, "inference": 2}
    assert total("monolith", redundant("monolith", 1)) <= MEMORY_MB
    assert redundant("micro", 1) is TWO_OF_EACH
    assert set(TWO_OF_EACH.replicas) == {"gateway", "features", "inference"}  # ingest: one writer
