"""Two open-loop generators, one curve: Locust, the lab's, and httperf (lab/load/httperf.py),
taking turns at the same rates of single predictions against the same deployment.

httperf opens a connection for every call, where Locust keeps its connections, and a new
connection costs the edge and the app a connect of their own: so Locust runs twice, as the lab
runs it and with a connection a call (`--connection-per-call`), and it is that second run that
is held against httperf. Where their medians (and their p99s, where both have the samples)
agree, within httperf's bin and a quarter, the curve is not an artefact of the generator that
drew it to that resolution; one run of each a rate cannot say more. The first run beside it
shows what keeping connections saves. One more difference stays: httperf
times a call from its connection's start, Locust from when it was due.
"""

from __future__ import annotations

import math
from pathlib import Path

from lab.experiments.analysis import binned_percentiles, rate_step, window
from lab.experiments.budget import Budget
from lab.experiments.capacity import generator_held
from lab.load.httperf import BIN_MS, HttperfRun, run_httperf, sessions_file
from lab.load.locust import DRAIN_SECONDS, steady_open_load
from lab.stats import in_turns
from runtimes.compose import ComposeDeployment

AGREE_SHARE = 0.25  # of the larger figure, beyond httperf's bin: two generators agree within it
RECORDS = 500  # distinct customers httperf sends, in turn


def crosscheck(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    rates: tuple[float, ...],
    *,
    seconds: float,
    settle_seconds: float,
) -> list[dict]:
    """At each rate, rising, Locust and httperf in turn (the first rate Locust first, the next
    httperf first, ...), each measured over `seconds`."""
    from churnlab.ml.data import load_dataset

    out.mkdir(parents=True, exist_ok=True)
    sessions = sessions_file(
        load_dataset()[0].to_dict("records")[:RECORDS], out / "httperf-sessions.txt"
    )
    steps = []
    for number, rate in enumerate(sorted(rates)):
        generators = {
            "locust": lambda rate=rate: _locust(
                deployment, out, budget, rate, seconds, settle_seconds, per_call=False
            ),
            "locust_per_call": lambda rate=rate: _locust(
                deployment, out, budget, rate, seconds, settle_seconds, per_call=True
            ),
            "httperf": lambda rate=rate: _httperf(deployment, budget, rate, seconds, sessions),
        }
        measured = {name: measure() for name, measure in in_turns(generators, number)}
        steps.append({"offered_rps": rate, **measured, "agree": agree(measured)})
    return steps


def _locust(
    deployment: ComposeDeployment,
    out: Path,
    budget: Budget,
    rate: float,
    seconds: float,
    settle_seconds: float,
    *,
    per_call: bool,
) -> dict:
    run = steady_open_load(
        deployment.url,
        out / f"locust-{'per-call-' if per_call else ''}{rate:g}.csv",
        rate=rate,
        seconds=settle_seconds + seconds,
        cpus=budget.generator_cpus,
        drain_seconds=DRAIN_SECONDS,
        mix="single",
        connection_per_call=per_call,
    )
    if not run.requests:
        raise RuntimeError(f"Locust sent nothing at {rate:g}/s")
    start = min(r.time for r in run.requests) + settle_seconds
    step = rate_step(run.requests, rate, start, start + seconds)
    calls = window(run.requests, start, start + seconds)
    generator = generator_held(run, budget, rate, start, seconds, calls)
    return {
        "calls": len(calls),
        "achieved_rps": step["achieved_rps"],
        "success": step["success"],
        "p50_ms": step["p50_ms"],
        "p99_ms": step["p99_ms"],
        "samples": step["samples"],
        "held": generator["valid"],
        "generator_cpu_share": generator["cpu_share"],
    }


def _httperf(
    deployment: ComposeDeployment, budget: Budget, rate: float, seconds: float, sessions: Path
) -> dict:
    run = run_httperf(deployment.url, rate, seconds, sessions, cpus=budget.generator_cpus)
    figures = binned_percentiles(run.histogram, BIN_MS)
    return {
        "calls": run.calls,
        "achieved_rps": round(run.achieved_rps, 1),
        "success": round(run.answered / run.calls, 4) if run.calls else None,
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
        "samples": figures["samples"],
        "held": held_schedule(run, rate),
        "generator_cpu_share": run.cpu_share,
    }


def held_schedule(run: HttperfRun, rate: float) -> bool:
    """httperf sent its calls in about the time its Poisson schedule takes: the sum of n
    exponential gaps of mean 1/rate has a standard deviation of sqrt(n)/rate, and the run is
    allowed 4 of them beyond the mean, plus its slowest call's time for the last answer; and
    no call failed. (httperf times a call from its connect, so its own lateness shows here
    alone, never in its percentiles.)"""
    slowest_s = (max(run.histogram, default=0.0) + BIN_MS) / 1000
    allowed = run.calls / rate + 4 * math.sqrt(run.calls) / rate + slowest_s
    return run.seconds <= allowed and run.errors == 0


def agree(measured: dict[str, dict]) -> bool | None:
    """Locust with a connection a call and httperf held their schedules, and their p50s (and
    p99s, where both quote one) differ by at most httperf's bin plus AGREE_SHARE of the larger;
    None when either did not hold (no comparison)."""
    locust, httperf = measured["locust_per_call"], measured["httperf"]
    if not (locust["held"] and httperf["held"]):
        return None
    for name in ("p50_ms", "p99_ms"):
        first, second = locust[name], httperf[name]
        if first is None or second is None:
            continue
        if abs(first - second) > BIN_MS + AGREE_SHARE * max(first, second):
            return False
    return True


GENERATORS = {  # as the table names them
    "locust": "Locust, as the lab runs it",
    "locust_per_call": "Locust, a connection a call",
    "httperf": "httperf (a connection a call)",
}
HEADER = [
    "offered",
    "generator",
    "calls",
    "achieved",
    "answered",
    "p50",
    "p99",
    "held its schedule",
    "agree",
]
INTRO = (
    "Two open-loop generators, one curve: Locust (the lab's) and httperf, in turn at the same "
    "rates of single predictions against the monolith, Poisson arrivals both. httperf opens a "
    "connection a call, so Locust runs as the lab runs it (keeping its connections) and with a "
    "connection a call too, and that run is held against httperf. httperf keeps its times in "
    "1 ms bins, so its percentiles are a bin's upper edge; the two agree when their p50s (and "
    "p99s, where both have 1,000 samples) differ by at most that bin and "
    f"{AGREE_SHARE:.0%} of the larger."
)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} ms"


def rows(measured: dict) -> list[list[str]]:
    """A row per generator per rate."""
    table = []
    for step in measured.get("steps", []):
        verdict = {True: "yes", False: "no", None: "not compared"}[step["agree"]]
        for name, label in GENERATORS.items():
            figures = step[name]
            table.append(
                [
                    f"{step['offered_rps']:g}/s",
                    label,
                    str(figures["calls"]),
                    f"{figures['achieved_rps']:g}/s",
                    "n/a" if figures["success"] is None else f"{figures['success']:.1%}",
                    _ms(figures["p50_ms"]),
                    _ms(figures["p99_ms"]),
                    "yes" if figures["held"] else "no",
                    verdict,
                ]
            )
    return table


def conclusion(measured: dict) -> str:
    if "error" in measured:
        return f"The generators were not cross-checked: {measured['error']}"
    by_verdict: dict[bool | None, list[str]] = {True: [], False: [], None: []}
    for step in measured["steps"]:
        by_verdict[step["agree"]].append(f"{step['offered_rps']:g}/s")
    agreed, disagreed, uncompared = (", ".join(by_verdict[v]) for v in (True, False, None))
    if disagreed:
        text = (
            f"Locust and httperf, both with a connection a call, disagree at {disagreed}: "
            "there the curve may be the generator's as much as the deployment's."
        )
    elif agreed:
        text = (
            f"Locust and httperf, in turn on the monolith with a connection a call, agree at "
            f"{agreed} (within httperf's bin and {AGREE_SHARE:.0%}, one run each)."
        )
    else:
        text = "Locust and httperf were compared at no rate."
    if uncompared:
        text += f" Not compared at {uncompared}: a generator fell behind its schedule."
    gaps = median_gaps(measured["steps"])
    if gaps:
        spread = (
            f"{gaps[0]:+.1f}" if min(gaps) == max(gaps) else f"{min(gaps):+.1f} to {max(gaps):+.1f}"
        )
        text += f" At the median Locust read {spread} ms beside httperf (its bin's middle)"
        text += (
            ": above it by more than half a bin everywhere, a Python client's own time in each "
            "call is in the lab's latencies, small beside the SLO, not beside a few milliseconds."
            if min(gaps) > BIN_MS / 2
            else "."
        )
    return text


def median_gaps(steps: list[dict]) -> list[float]:
    """Locust's p50 with a connection a call less httperf's (its bin's middle), by rate."""
    return [
        round(s["locust_per_call"]["p50_ms"] - (s["httperf"]["p50_ms"] - BIN_MS / 2), 2)
        for s in steps
        if s["locust_per_call"]["p50_ms"] is not None and s["httperf"]["p50_ms"] is not None
    ]
