"""The closed/open loop cases are sized from what the saturated closed loop achieved, and the
moderate one is resized once when the users' response time left it short of its share."""

from __future__ import annotations

from typing import ClassVar

import pytest

from lab.experiments import loops

FLAT_OUT = 400.0  # calls a second, the made-up server's most


class MadeUpRuns:
    """A server of 400 calls/s that answers in `response_seconds` below it: a closed loop of N
    users thinking Z reaches N / (Z + R), as Little's law has it."""

    response_seconds = 0.1
    asked: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, *_):
        MadeUpRuns.asked = []

    def closed(self, users, think_seconds, name):
        self.asked.append((name, users))
        achieved = (
            FLAT_OUT if think_seconds == 0 else users / (think_seconds + self.response_seconds)
        )
        return {"achieved_rps": min(FLAT_OUT, achieved)}

    def pair(self, users, think_seconds, closed, name):
        return {"users": users, "think_seconds": think_seconds, "closed": closed, "open": {}}


def cases(monkeypatch, response_seconds: float) -> dict:
    monkeypatch.setattr(MadeUpRuns, "response_seconds", response_seconds)
    monkeypatch.setattr(loops, "Runs", MadeUpRuns)
    return loops.loop_cases(
        None, None, None, users=16, share=0.65, think_seconds=0.5, seconds=4, settle_seconds=1
    )


def test_a_response_time_that_leaves_the_load_short_resizes_the_users_once(monkeypatch):
    found = cases(monkeypatch, response_seconds=0.1)  # 130 users reach 217/s, not 260
    assert MadeUpRuns.asked == [("saturated", 16), ("moderate", 130), ("moderate-resized", 156)]
    assert found["moderate"]["users"] == 156
    assert found["moderate"]["share"] == pytest.approx(0.65, abs=0.01)
    assert found["moderate"]["target_share"] == 0.65
    assert found["saturated"]["users"] == 16


def test_a_load_close_enough_to_its_share_is_not_resized(monkeypatch):
    found = cases(monkeypatch, response_seconds=0.02)  # 130 users reach 250/s: 62.5%
    assert [name for name, _ in MadeUpRuns.asked] == ["saturated", "moderate"]
    assert found["moderate"]["share"] == pytest.approx(0.625)
