"""Capacity by search (search.py), one open-loop trial per rate the search asks for.

A trial is one Locust run of single predictions at one offered rate: `settle_seconds` left out
(users starting, queues forming), a measured window long enough for `calls` intended calls
(1,000 where a p99 is quoted) and at least `measure_seconds`, then a drain past the client's
timeout so that every call due in the window ends in an answer or a timeout and is counted.

The trial passes when at least 99% of the window's intended calls were answered (200) within
the SLO: a p99 within the SLO, with failures counted as slow. It is decided by the Wilson
interval of that share: above 99% passes, below fails, and a trial too short to tell runs once
more, twice as long, then goes by its point estimate. A rate that passes stands; one that fails
is tried again, and passes if 2 of 3 trials do: a shared machine stalls now and then (pauses of
0.3-3 s were seen on this VM), and one stall fails a step at any rate, so an unconfirmed failure
would walk the search down to the floor. A trial whose generator fell off its own
schedule (the window's calls outside λT ± 3√(λT), or its CPU saturated, or over 1% of calls
left over 10 ms late) tells nothing of the deployment: the search goes on below that rate, and
its result says the generator limited it (a capacity that never failed under the generator's
limit reads "≥"). The one exception is a trial that fails even with every late call counted
as good: lateness alone cannot have failed it, so it fails.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from scipy.stats import binomtest

from lab.experiments.analysis import LATE_MS, rate_step, window
from lab.experiments.budget import SATURATED_SHARE, Budget, generator_check
from lab.experiments.search import CapacitySearch
from lab.load.locust import FIRST_CALL_SLACK_SECONDS, Request, run_locust
from lab.stats import spread

TARGET_SHARE = 0.99  # of calls answered within the SLO
# Fewer calls than this can never pass: even all of them within the SLO leave the Wilson
# interval's lower end under 99%.
CALLS_TO_PASS = 381
RATE_PER_USER = 5.0  # at most: each user offers its share of the rate, so any rate is exact


class Serving(Protocol):
    """All a trial needs of a deployment (Compose, local or on the swarm)."""

    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class Method:
    """How a capacity is measured: the same for every deployment of one plan."""

    slo_ms: float
    settle_seconds: float
    measure_seconds: float  # at least
    calls: int  # at least, in the measured window
    timeout_seconds: float  # a call's, at the client
    start: float  # the search's first rate
    limit: float  # its highest
    floor: float  # its lowest: a capacity under it reads "< floor"
    resolution: float  # the bracket's width to stop at, as a share of its lower end
    # A failure is decided by the majority of up to this many trials (one stall of the machine
    # does not fail a rate); a pass stands at once. 1 takes a failure as it comes.
    failure_trials: int = 3

    def __post_init__(self) -> None:
        if self.calls < CALLS_TO_PASS:
            raise ValueError(f"a trial of fewer than {CALLS_TO_PASS} calls can never pass")
        if self.failure_trials < 1 or self.failure_trials % 2 == 0:
            raise ValueError("a failure is decided by a majority of an odd number of trials")

    def in_time(self, request: Request) -> bool:
        """Answered (200) within the SLO: what a trial counts toward its 99%."""
        return request.ok and request.ms <= self.slo_ms

    def window_seconds(self, rate: float) -> float:
        return max(self.measure_seconds, self.calls / rate)

    @property
    def drain_seconds(self) -> float:
        return self.timeout_seconds + 1


def trial(
    deployment: Serving,
    log: Path,
    budget: Budget,
    method: Method,
    rate: float,
    longer: int = 1,
    path_prefix: str = "",
) -> dict:
    """One offered rate, measured: the step's figures, the generator's check, and `passed`
    (True, False, or None when the generator could not hold the rate). `path_prefix` sends
    the same calls elsewhere on the edge (calibration.py's null endpoint)."""
    measured = method.window_seconds(rate) * longer
    step = method.settle_seconds + measured + FIRST_CALL_SLACK_SECONDS
    users = math.ceil(rate / RATE_PER_USER)
    run = run_locust(
        deployment.url,
        log,
        loop="open",
        shape="rates",
        seconds=step + method.drain_seconds + 1,
        cpus=budget.generator_cpus,
        rates=f"{rate:g}",
        rate_per_user=rate / users,
        step_seconds=step,
        drain_seconds=method.drain_seconds,
        timeout_seconds=method.timeout_seconds,
        mix="single",
        path_prefix=path_prefix,
    )
    if not run.requests:
        raise RuntimeError(f"the generator sent nothing at {rate:g}/s (see {log})")
    start = min(r.time for r in run.requests) + method.settle_seconds
    calls = window(run.requests, start, start + measured)
    figures = rate_step(run.requests, rate, start, start + measured)
    good = sum(map(method.in_time, calls))
    generator = generator_held(run, budget, rate, start, measured, calls)
    if generator["valid"]:
        verdict = slo_verdict(good, len(calls))
    else:
        verdict = failed_anyway(calls, method, generator)
    return {
        **figures,
        "window_s": round(measured, 1),
        "calls": len(calls),
        "within_slo": good,
        "generator": generator,
        "verdict": verdict,
    }


def failed_anyway(calls: list, method: Method, generator: dict) -> str | None:
    """ "fail" for a trial whose generator only sent late (on schedule, CPU not saturated) when
    even every late call counted as good could not pass: its lapse cannot have caused that
    failure. An overloaded deployment makes its generator late too (CI's quick run: 0 of
    1,251 calls within the SLO at 600/s, 1.1% late), and calling that trial off stopped the
    search with a bracket twice as wide as it had to be. Else None: it tells nothing."""
    if not generator["on_schedule"] or generator["cpu_share"] >= SATURATED_SHARE:
        return None
    good_or_late = sum(method.in_time(r) or r.late_ms > LATE_MS for r in calls)
    return "fail" if slo_verdict(good_or_late, len(calls)) == "fail" else None


def generator_held(
    run, budget: Budget, rate: float, start: float, seconds: float, calls: list
) -> dict:
    """budget.generator_check over the window, and whether the generator held its schedule
    there: the count it should have sent (Poisson, within 4 standard deviations of λT: at 3 a
    trial in 370 is called off by chance, and a quick run holds dozens)."""
    held = generator_check(run, budget, (start, start + seconds))
    expected = rate * seconds
    on_schedule = abs(len(calls) - expected) <= 4 * math.sqrt(expected)
    return {
        **held,
        "expected_calls": round(expected),
        "on_schedule": on_schedule,
        "valid": on_schedule and held["valid"],
    }


def slo_verdict(good: int, calls: int) -> str:
    """ "pass" when the Wilson 95% interval of the share answered within the SLO lies above
    99%, "fail" when below, else "undecided" (too few calls to tell)."""
    if calls == 0:
        return "fail"
    interval = binomtest(good, calls).proportion_ci(0.95, method="wilson")
    if interval.low >= TARGET_SHARE:
        return "pass"
    return "fail" if interval.high < TARGET_SHARE else "undecided"


def capacity_search(
    deployment: Serving, out: Path, budget: Budget, method: Method, estimate: float | None = None
) -> dict:
    """The deployment's capacity by search, from `method.start` doubling, or from an earlier
    `estimate` in steps of twice the resolution (10% at 5%): search.py's result, with
    `limited_by` the generator when it stopped the search, and every trial it ran."""
    search = CapacitySearch(
        estimate or method.start,
        method.limit,
        floor=method.floor,
        resolution=method.resolution,
        growth=1 + 2 * method.resolution if estimate else 2.0,
    )
    trials: list[dict] = []
    limited_by = None
    while (rate := search.next_rate()) is not None:
        outcomes: list[bool] = []  # a pass stands; a failure is confirmed by the majority
        majority = method.failure_trials // 2 + 1
        while (
            passed := decide(deployment, out / f"rate-{rate:g}", budget, method, rate, trials)
        ) is not None:
            outcomes.append(passed)
            if outcomes[0] or max(outcomes.count(True), outcomes.count(False)) >= majority:
                break
        if passed is None:  # the generator's limit is under `rate`: search below it
            limited_by = "generator"
            low = search.passing
            if low is None or search.failing is not None or rate - low <= method.resolution * low:
                break
            search.limit = round((low + rate) / 2, 1)
            continue
        search.record(rate, outcomes.count(True) > outcomes.count(False))
    return {
        **search.result(),
        "limited_by": limited_by,
        "trials": trials,
        "method": asdict(method),
    }


BOUNDS = {"above": "≥", "below": "<"}  # a censored capacity is a bound of this kind


def describe(found: dict) -> str:
    """One search's capacity as read: "237.5", "≥ 800" (never failed), "< 10" (never passed),
    with what limited it where that was the generator."""
    text = f"{BOUNDS.get(found['censored'], '')} {found['capacity_rps']:g}".strip()
    return text + (" (the generator's limit)" if found.get("limited_by") else "")


def decide(
    deployment: Serving, log: Path, budget: Budget, method: Method, rate: float, trials: list
) -> bool | None:
    """One trial at `rate`, and its longer rerun when it was too short to tell, each kept in
    `trials`: passed or not, or None when the generator could not hold the rate."""
    for longer in (1, 2):
        name = f"{log.name}-{len(trials)}{'-x2' if longer == 2 else ''}.csv"
        measured = trial(deployment, log.with_name(name), budget, method, rate, longer)
        trials.append(measured)
        generator = measured["generator"]
        print(
            f"    {rate:g}/s: {measured['within_slo']} of {measured['calls']} calls within the SLO"
            f" ({generator['expected_calls']} due), {measured['verdict'] or 'generator off'}"
            f" (generator CPU {generator['cpu_share']:.0%}, late {generator['late_share']:.1%})",
            flush=True,
        )
        if measured["verdict"] != "undecided":
            return None if measured["verdict"] is None else measured["verdict"] == "pass"
    return measured["within_slo"] >= TARGET_SHARE * measured["calls"]


def summarise(searches: list[dict]) -> dict:
    """Repeated searches as one figure. Censored runs are bounds, not values: the median of
    lower bounds is a lower bound of the median, so the figure then reads "≥" (or "<")."""
    censored = {s["censored"] for s in searches} - {None}
    reads = "=" if not censored else "?" if len(censored) > 1 else BOUNDS[censored.pop()]
    return {
        "runs": searches,
        "capacity_rps": spread([s["capacity_rps"] for s in searches], 1),
        "reads": reads,
        "censored_runs": sum(s["censored"] is not None for s in searches),
    }
