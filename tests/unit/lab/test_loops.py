"""The closed/open loop cases are sized from what the saturated closed loop achieved."""

from __future__ import annotations

from lab.experiments import loops


def test_the_moderate_case_is_sized_to_its_share_of_the_saturated_throughput(monkeypatch, tmp_path):
    asked = []

    def closed_and_open(deployment, out, budget, *, users, think_seconds, **_):
        asked.append((out.name, users, think_seconds))
        # a server of 400 calls/s flat out; thinking users send users / think a second
        achieved = 400.0 if think_seconds == 0 else min(400.0, users / think_seconds)
        return {"users": users, "think_seconds": think_seconds,
                "closed": {"achieved_rps": achieved}, "open": {}}  # fmt: skip

    monkeypatch.setattr(loops, "closed_and_open", closed_and_open)
    cases = loops.loop_cases(
        None, tmp_path, None, users=16, share=0.65, think_seconds=0.5, seconds=4,
        settle_seconds=1,
    )  # fmt: skip
    assert asked == [("saturated", 16, 0.0), ("moderate", 130, 0.5)]
    assert cases["moderate"]["share"] == 0.65
    assert cases["moderate"]["target_share"] == 0.65
    assert cases["saturated"]["users"] == 16
