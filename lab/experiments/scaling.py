"""Like-for-like scaling on one host: the same CPU set and memory for every configuration.

The monolith scales as replicas behind the edge, each with its share of the CPU quota and of
the memory. The microservices scale per stage; the configurations below split the same budget
differently, and the one that serves most is reported. Each configuration's capacity comes
from the same search as the headline one (capacity.py). On one host extra replicas share the same
CPUs: this shows what splitting costs; the cluster (make cluster-up) shows what it buys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.experiments.budget import MEMORY_MB
from runtimes.compose import ComposeDeployment

# Each deployment's services that a configuration scales (the edge always runs once).
SERVICES = {
    "monolith": ("monolith",),
    "micro": ("gateway", "ingest", "features", "inference"),
    "hybrid": ("hybrid", "inference"),
}


@dataclass(frozen=True)
class Configuration:
    name: str
    replicas: dict[str, int]
    environment: dict[str, str] = field(default_factory=dict)


def monolith_replicas(count: int, cpus: int) -> Configuration:
    """`count` replicas sharing the monolith's CPUs and memory; one worker each beyond one."""
    memory = MEMORY_MB - 256  # the edge keeps its own
    return Configuration(
        f"{count} replica(s)",
        {"monolith": count},
        {
            "MONOLITH_CPUS": f"{cpus / count:.2f}",
            "MONOLITH_MEMORY": f"{memory // count}m",
            "MONOLITH_WORKERS": "2" if count == 1 else "1",
        },
    )


# A stage run twice gets half its limit and workers per replica: the memory one of each has.
MICRO_SPLITS = (
    Configuration("one of each", {}),
    Configuration("2 inference", {"inference": 2}, {"INFERENCE_MEMORY": "256m"}),
    Configuration("2 gateways", {"gateway": 2}, {"GATEWAY_MEMORY": "128m", "GATEWAY_WORKERS": "1"}),
)
# Two of every stateless stage (ingest, the one writer of the prediction log, stays one).
TWO_OF_EACH = Configuration(
    "2 of each stateless stage",
    {"gateway": 2, "features": 2, "inference": 2},
    {
        "GATEWAY_MEMORY": "128m",
        "GATEWAY_WORKERS": "1",
        "FEATURES_MEMORY": "128m",
        "INFERENCE_MEMORY": "256m",
    },
)
# The hybrid as two of each: each API replica with one worker (as each of the monolith's two)
# and half the hybrid's memory, each model replica with half of inference's.
TWO_HYBRIDS = Configuration(
    "2 of each",
    {"hybrid": 2, "inference": 2},
    {"HYBRID_MEMORY": "384m", "HYBRID_WORKERS": "1", "INFERENCE_MEMORY": "256m"},
)
# What any configuration may set, so that going back to the deployment's own clears it.
SETTINGS = frozenset(
    name
    for configuration in (monolith_replicas(2, 1), *MICRO_SPLITS, TWO_OF_EACH, TWO_HYBRIDS)
    for name in configuration.environment
)


def redundant(deployment_file: str, cpus: int) -> Configuration:
    """Equal redundancy for faults: two of everything a fault can take away and another
    replica can stand in for, in the same CPU set and memory."""
    if deployment_file == "monolith":
        return monolith_replicas(2, cpus)
    return TWO_HYBRIDS if deployment_file == "hybrid" else TWO_OF_EACH


def apply(deployment: ComposeDeployment, configuration: Configuration) -> None:
    """Scale (and set quotas) to the configuration; services it does not name run once."""
    deployment.environment |= configuration.environment
    scales = [
        argument
        for service in SERVICES[deployment.file]
        for argument in ("--scale", f"{service}={configuration.replicas.get(service, 1)}")
    ]
    deployment.compose("up", "-d", "--no-build", "--wait", *scales)
