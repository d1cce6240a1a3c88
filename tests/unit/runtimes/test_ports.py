"""The ports a deployment takes outside containers: the README's defaults, a user's overrides,
and free ones for tests that must not meet a running `make up-*`."""

from __future__ import annotations

import socket

import pytest

from runtimes.ports import PORTS, free_ports, ports


def test_the_defaults_are_the_readmes_ports(monkeypatch):
    for variable, _ in PORTS["micro"].values():
        monkeypatch.delenv(variable, raising=False)
    assert ports("micro")["EDGE_PORT"] == "8080"
    assert ports("monolith")["EDGE_PORT"] == "8000"


def test_a_users_variable_moves_only_its_own_port(monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "9090")
    chosen = ports("micro")
    assert chosen["EDGE_PORT"] == "9090"
    assert chosen["APP_PORT"] == PORTS["micro"]["APP_PORT"][1]


@pytest.mark.parametrize("deployment", sorted(PORTS))
def test_free_ports_are_distinct_and_bindable_with_three_inference_ports(deployment):
    chosen = free_ports(deployment)
    assert set(chosen) == set(PORTS[deployment])
    numbers = [int(port) for name, port in chosen.items() if name != "INFERENCE_PORT_PREFIX"]
    if "INFERENCE_PORT_PREFIX" in chosen:
        numbers += [int(f"{chosen['INFERENCE_PORT_PREFIX']}{n}") for n in (1, 2, 3)]
    assert len(set(numbers)) == len(numbers)
    for port in numbers:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
