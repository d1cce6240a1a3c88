"""The pure parts of the Swarm experiments: the best split per node count, and timing from the
manager's samples."""

from lab.experiments.analysis import best_by_nodes
from lab.experiments.node_faults import SwarmSample, seconds_until
from lab.experiments.swarm import summary


def row(nodes: int, deployment: str, configuration: str, capacity: float) -> dict:
    return {
        "nodes": nodes,
        "deployment": deployment,
        "configuration": configuration,
        "capacity_rps": capacity,
        "censored": None if capacity < 800 else "above",
        "bracket": [capacity, capacity * 1.04 if capacity < 800 else None],
        "limited_by": None,
    }


def test_best_split_per_node_count_is_the_highest_capacity():
    rows = [
        row(1, "monolith", "1 replica", 100),
        row(1, "micro", "a", 20),
        row(1, "micro", "b", 30),
        row(2, "micro", "a", 50),
        row(2, "micro", "b", 40),
    ]
    best = best_by_nodes(rows)
    assert best["monolith"][1]["capacity_rps"] == 100
    assert {n: r["configuration"] for n, r in best["micro"].items()} == {1: "b", 2: "a"}


def test_seconds_until_counts_from_the_fault_and_ignores_earlier_samples():
    samples = [
        SwarmSample(99.0, "Down/Active", 0, True, False),  # before the fault: not counted
        SwarmSample(100.5, "Ready/Active", 2, False, False),
        SwarmSample(104.0, "Down/Active", 1, False, False),
        SwarmSample(111.0, "Down/Active", 1, True, False),
        SwarmSample(118.0, "Down/Active", 2, True, False),
    ]
    assert seconds_until(samples, 100.0, lambda s: s.victim_state != "Ready/Active") == 4.0
    assert seconds_until(samples, 100.0, lambda s: s.primary_elsewhere) == 11.0
    assert seconds_until(samples, 100.0, lambda s: s.tasks_elsewhere >= 2) == 0.5
    assert seconds_until(samples, 101.0, lambda s: s.tasks_elsewhere >= 2) == 17.0
    assert seconds_until(samples, 100.0, lambda s: s.tasks_elsewhere >= 3) is None


def test_summary_tables_every_configuration_and_fault():
    results = {
        "command": "make compare-swarm",
        "started": "2026-11-26 16:00 UTC",
        "budget": {"deployment_cpus": "1", "generator_cpus": "0"},
        "scaling": [row(1, "monolith", "1 replica", 800), row(2, "micro", "a", 50)],
        "node_faults": [
            {
                "deployment": "micro",
                "fault": "kill node-2",
                "time_to_detect_s": 11.5,
                "primary_elsewhere_s": 16.0,
                "tasks_back_s": None,
                "replicated_again_s": 24.5,
                "answered_on_one_copy": 0,
                "requests_failed": 3,
                "requests_intended": 600,
                "records_lost_node_down": 0,
                "records_lost": 0,
            }
        ],
    }
    text = summary(results)
    assert "| 2 | micro | a | 50 | 50 to 52 |" in text
    assert "| 1 | monolith | 1 replica | ≥ 800 | 800 |" in text  # never failed: a bound
    row_text = (
        "| micro | kill node-2 | 11.5 s | 16 s | not in the run | 24.5 s | 3 of 600 | 0 | 0 / 0 |"
    )
    assert row_text in text
