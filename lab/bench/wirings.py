"""The wirings served side by side through their edges: requests a second and the CPU every
process of a deployment spends per request (wrk, 16 connections), in rounds that take them in
turns; what each split wiring's sequential hops add at low load; one hop at its cheapest.
Used by make bench and by make verdict, which composes a user's model with these figures."""

from __future__ import annotations

import statistics
import time

from churnlab.adapters.stage_client import StageClient
from churnlab.config import Settings
from lab.load.cpu import tree_cpu_seconds
from lab.load.wrk import run_wrk
from lab.stats import in_turns, spread
from runtimes.local import LocalDeployment

# The stage calls each split wiring makes in a row, each a hop the monolith makes in-process:
# the gateway calls features, inference, then ingest (which records the request with its
# answer); the hybrid API calls inference alone.
SEQUENTIAL_HOPS = {"micro": 3, "hybrid": 1}


def served_rps_and_cpu_ms(
    deployment: LocalDeployment, record: dict, seconds: int
) -> tuple[float, float]:
    """`/v1/predict` through the edge with wrk's 16 connections: requests a second, and the CPU
    every process of the deployment (its edge included) spent per request."""
    before = tree_cpu_seconds(deployment.pid)
    result = run_wrk(f"{deployment.url}/v1/predict", body=record, seconds=seconds, connections=16)
    used = tree_cpu_seconds(deployment.pid) - before
    return result.requests_per_second, 1000 * used / (result.requests_per_second * seconds)


def wiring_figures(
    record: dict, deployments: dict[str, LocalDeployment], seconds: int, rounds: int
) -> dict:
    """The monolith and each split wiring (SEQUENTIAL_HOPS), each behind its edge, on the same
    machine, in rounds that take them in turns. CPU per request is every process of the
    deployment, its edge included."""
    rps: dict[str, list[float]] = {name: [] for name in deployments}
    cpu_ms: dict[str, list[float]] = {name: [] for name in deployments}
    low_load_ms: dict[str, list[float]] = {name: [] for name in deployments}
    for deployment in deployments.values():
        run_wrk(f"{deployment.url}/v1/predict", body=record, seconds=1, connections=16)
    for round_number in range(rounds):
        for name, deployment in in_turns(deployments, round_number):
            served, cpu = served_rps_and_cpu_ms(deployment, record, seconds)
            rps[name].append(served)
            cpu_ms[name].append(cpu)
            quiet = run_wrk(f"{deployment.url}/v1/predict", body=record, seconds=2, connections=1)
            low_load_ms[name].append(quiet.median_ms)
    floor_cpu_ms, floor_ms = hop_floor(deployments["micro"])
    figures: dict = {
        "predict_rps": {name: spread(values, 1) for name, values in rps.items()},
        "cpu_ms_per_request": {name: spread(values) for name, values in cpu_ms.items()},
        "p50_ms_low_load": {name: spread(values) for name, values in low_load_ms.items()},
        "hop_floor_ms": round(floor_ms, 3),
        "hop_floor_cpu_ms": round(floor_cpu_ms, 3),
    }
    for name, hops_in_a_row in SEQUENTIAL_HOPS.items():
        monolith = zip(low_load_ms[name], low_load_ms["monolith"], strict=True)
        added = [split - whole for split, whole in monolith]
        figures[name] = {
            "over_monolith": spread(
                [split / whole for split, whole in zip(rps[name], rps["monolith"], strict=True)]
            ),
            "added_ms": spread(added),
            "sequential_hops": hops_in_a_row,
            "added_ms_per_sequential_hop": spread([value / hops_in_a_row for value in added]),
        }
    return figures


def alternating_served(
    deployments: dict[str, LocalDeployment], record: dict, seconds: int, rounds: int
) -> dict:
    """Two deployments served in alternating rounds: each one's requests a second and CPU per
    request, and the first's throughput over the second's, round by round."""
    rps: dict[str, list[float]] = {name: [] for name in deployments}
    cpu_ms: dict[str, list[float]] = {name: [] for name in deployments}
    for round_number in range(rounds):
        for name, deployment in in_turns(deployments, round_number):
            served, cpu = served_rps_and_cpu_ms(deployment, record, seconds)
            rps[name].append(served)
            cpu_ms[name].append(cpu)
    first, second = deployments
    return {
        "predict_rps": {name: spread(values, 1) for name, values in rps.items()},
        "cpu_ms_per_request": {name: spread(values) for name, values in cpu_ms.items()},
        f"{first}_over_{second}_rps": spread(
            [a / b for a, b in zip(rps[first], rps[second], strict=True)]
        ),
    }


def hop_floor(micro: LocalDeployment, calls: int = 2_000) -> tuple[float, float]:
    """One hop at its cheapest: the gateway's own client calling a service's /livez.

    Returns (CPU ms per hop, client and server together; median wall ms per hop at low load).
    """
    client = StageClient("floor", micro.stage_url("features"), Settings(health_every_seconds=0))
    server_pid = micro.faults.pids("features")[-1]
    latencies = []
    for _ in range(200):
        client.call("GET", "/livez")
    cpu_before, server_before = time.process_time(), tree_cpu_seconds(server_pid)
    for _ in range(calls):
        started = time.perf_counter()
        client.call("GET", "/livez")
        latencies.append(time.perf_counter() - started)
    client_cpu = time.process_time() - cpu_before
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    return 1000 * (client_cpu + server_cpu) / calls, 1000 * statistics.median(latencies)
