"""Locust's command line from the runner's settings: a switch is a flag, or nothing."""

from __future__ import annotations

from lab.load.locust import _arguments


def test_a_setting_is_a_flag_and_its_value_and_a_switch_is_a_flag_or_nothing():
    assert _arguments("step_seconds", 5) == ("--step-seconds", "5")
    assert _arguments("connection_per_call", True) == ("--connection-per-call",)
    assert _arguments("connection_per_call", False) == ()
