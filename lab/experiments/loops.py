"""Closed loop against open loop on the same deployment, where the difference teaches and where
it only shows saturation.

A closed-loop run (users that wait for each answer, then think) reports a throughput and a
latency. The open-loop run then offers that very throughput as independent arrivals and
measures latency from when each request was due. Two cases ("Open Versus Closed", NSDI'06):

- saturated: a few users with no think time, so the closed loop runs the server flat out. Its
  queue is bounded by the user count, while the open loop's grows with the run's length: the
  gap there is the run length's, labelled as such.
- moderate: enough users thinking long enough to load the server to about `share` of the
  saturated throughput (a utilization of 0.5-0.8). There the closed loop's politeness, a slow
  answer delaying that user's next call, is what hides queueing from it.

Latencies are per route: a single prediction's apart from a batch's.
"""

from __future__ import annotations

import math
from pathlib import Path

from lab.experiments.analysis import latency_by_route, window
from lab.experiments.budget import Budget, generator_check
from lab.load.locust import DRAIN_SECONDS, LocustRun, run_locust, steady_open_load
from runtimes.compose import ComposeDeployment

CLOSE_ENOUGH = 0.1  # of the target share: the moderate closed loop is resized once beyond it


def loop_cases(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    *,
    users: int,
    share: float,
    think_seconds: float,
    seconds: float,
    settle_seconds: float,
) -> dict:
    """The saturated case with `users`, then the moderate one sized from the saturated
    throughput X and its users' cycle: N = share * X * (think time + response time). The
    response time at that load is not known before, so the first N counts think time only and
    one resize by target over reached share corrects it (the figures are the resized run's)."""
    runs = Runs(deployment, out, budget, seconds, settle_seconds)
    saturated = runs.closed(users, 0.0, "saturated")
    flat_out = saturated["achieved_rps"]
    moderate_users = max(1, math.ceil(share * flat_out * think_seconds))
    moderate = runs.closed(moderate_users, think_seconds, "moderate")
    reached = moderate["achieved_rps"] / flat_out if flat_out else None
    if reached and abs(reached - share) > CLOSE_ENOUGH * share:
        moderate_users = max(1, math.ceil(moderate_users * share / reached))
        moderate = runs.closed(moderate_users, think_seconds, "moderate-resized")
        reached = moderate["achieved_rps"] / flat_out
    return {
        "saturated": runs.pair(users, 0.0, saturated, "saturated"),
        "moderate": {
            **runs.pair(moderate_users, think_seconds, moderate, "moderate"),
            "target_share": share,
            "share": None if reached is None else round(reached, 3),
        },
    }


class Runs:
    """The closed and open runs of one deployment, each measured over the same window after
    its settle, the generator judged over that window."""

    def __init__(
        self,
        deployment: ComposeDeployment,
        out: Path,
        budget: Budget,
        seconds: float,
        settle_seconds: float,
    ) -> None:
        self.deployment, self.out, self.budget = deployment, out, budget
        self.seconds, self.settle_seconds = seconds, settle_seconds

    def closed(self, users: int, think_seconds: float, name: str) -> dict:
        run = run_locust(
            self.deployment.url,
            self.out / name / "closed.csv",
            loop="closed",
            shape="steady",
            seconds=self.seconds,
            cpus=self.budget.generator_cpus,
            users=users,
            wait_seconds=think_seconds,
        )
        return self._figures(run)

    def pair(self, users: int, think_seconds: float, closed: dict, name: str) -> dict:
        """A closed run's figures with the open loop's at the rate the closed one achieved."""
        opened = steady_open_load(
            self.deployment.url,
            self.out / name / "open.csv",
            rate=closed["achieved_rps"],
            seconds=self.seconds,
            cpus=self.budget.generator_cpus,
            drain_seconds=DRAIN_SECONDS,
        )
        return {
            "users": users,
            "think_seconds": think_seconds,
            "closed": closed,
            "open": {"offered_rps": closed["achieved_rps"], **self._figures(opened)},
        }

    def _figures(self, run: LocustRun) -> dict:
        """Answered calls a second, of every route, each prediction route's latency, and the
        generator's check, in the window after the settle."""
        start = min(r.time for r in run.requests) + self.settle_seconds
        end = start + self.seconds - self.settle_seconds
        kept = window(run.requests, start, end)
        return {
            "achieved_rps": round(sum(r.ok for r in kept) / (end - start), 1),
            "routes": latency_by_route(kept),
            "generator": generator_check(run, self.budget, (start, end)),
        }
