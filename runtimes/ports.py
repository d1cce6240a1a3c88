"""The loopback ports each deployment uses outside containers, and free ones for tests."""

from __future__ import annotations

import os
import socket

# Per deployment: the variables compose/local/*.conf read, each with the environment variable
# that overrides it and its default. Only the edge's port is public (always on 127.0.0.1).
PORTS: dict[str, dict[str, tuple[str, str]]] = {
    "monolith": {
        "EDGE_PORT": ("MONOLITH_PORT", "8000"),
        "APP_PORT": ("MONOLITH_APP_PORT", "8001"),
        "EDGE_ADMIN_PORT": ("MONOLITH_EDGE_ADMIN_PORT", "8404"),
    },
    "micro": {
        "EDGE_PORT": ("GATEWAY_PORT", "8080"),
        "APP_PORT": ("GATEWAY_APP_PORT", "8081"),
        "EDGE_ADMIN_PORT": ("MICRO_EDGE_ADMIN_PORT", "8484"),
        "INGEST_PORT": ("INGEST_PORT", "8101"),
        "FEATURES_PORT": ("FEATURES_PORT", "8102"),
        "INFERENCE_PORT_PREFIX": ("INFERENCE_PORT_PREFIX", "811"),
    },
    "hybrid": {
        "EDGE_PORT": ("HYBRID_PORT", "8090"),
        "APP_PORT": ("HYBRID_APP_PORT", "8091"),
        "EDGE_ADMIN_PORT": ("HYBRID_EDGE_ADMIN_PORT", "8494"),
        "INFERENCE_PORT_PREFIX": ("HYBRID_INFERENCE_PORT_PREFIX", "812"),
    },
}
DEPLOYMENTS = tuple(PORTS)


def ports(deployment: str) -> dict[str, str]:
    """The ports a deployment uses here, overrides applied."""
    return {
        name: os.environ.get(variable, default)
        for name, (variable, default) in PORTS[deployment].items()
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(deployment: str) -> dict[str, str]:
    """A free port for each of the deployment's, and a free prefix for the inference ones."""
    chosen = {}
    for name in PORTS[deployment]:
        if name == "INFERENCE_PORT_PREFIX":
            chosen[name] = _free_prefix()
        else:
            chosen[name] = str(free_port())
    return chosen


def _free_prefix() -> str:
    """A four-digit prefix P such that ports P1, P2 and P3 are all free."""
    while True:
        prefix = str(free_port() // 10)[:4]
        if 1024 <= int(prefix + "1") < 65530 and all(
            _port_free(int(f"{prefix}{n}")) for n in (1, 2, 3)
        ):
            return prefix


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
