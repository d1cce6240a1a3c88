"""The experiments' arithmetic: request logs in, figures out. Pure, and unit-tested on
hand-made logs (tests/unit/test_experiment_analysis.py).

Latencies go into an HdrHistogram (microsecond resolution, three significant digits), which
keeps tail percentiles exact enough at any rate. In the open loop a request's latency runs from
when it was due, so requests a stalled server kept waiting are counted at their full wait.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from hdrh.histogram import HdrHistogram

from lab.load.locust import Request

PREDICTION_ROUTES = ("/v1/predict", "/v1/predict/batch")
LATE_MS = 10.0  # a request that left this much after it was due says the generator lagged


def predictions(log: Iterable[Request]) -> list[Request]:
    return [r for r in log if r.route.startswith("/v1/predict")]


# A percentile is quoted only from enough samples to have ten beyond it: under 1,000 a p99 is
# one of the few slowest calls, and under 10,000 a p99.9 is simply the maximum.
QUOTABLE_FROM = {"p50_ms": 20, "p99_ms": 1_000, "p999_ms": 10_000}


def percentiles(milliseconds: Iterable[float]) -> dict[str, float | int | None]:
    """p50, p99 and p99.9 in ms, from an HdrHistogram of the latencies, each null when there
    are too few samples to quote it (QUOTABLE_FROM), and the samples they came from."""
    histogram = HdrHistogram(1, 3_600_000_000, 3)  # 1 us to an hour
    for ms in milliseconds:
        histogram.record_value(max(round(ms * 1000), 1))
    samples = histogram.get_total_count()
    return {
        name: round(histogram.get_value_at_percentile(percentile) / 1000, 2)
        if samples >= QUOTABLE_FROM[name]
        else None
        for name, percentile in (("p50_ms", 50), ("p99_ms", 99), ("p999_ms", 99.9))
    } | {"samples": samples}


def binned_percentiles(histogram: dict[float, int], bin_ms: float) -> dict[str, float | int | None]:
    """As `percentiles`, from counts in bins `bin_ms` wide (by lower edge): each percentile the
    upper edge of the bin it falls in, so never below the true one by more than a bin."""
    samples = sum(histogram.values())
    found: dict[str, float | int | None] = {"samples": samples}
    for name, percentile in (("p50_ms", 50), ("p99_ms", 99), ("p999_ms", 99.9)):
        found[name] = None
        if samples < QUOTABLE_FROM[name]:
            continue
        seen = 0
        for lower, count in sorted(histogram.items()):
            seen += count
            if seen >= samples * percentile / 100:
                found[name] = round(lower + bin_ms, 2)
                break
    return found


def latency_by_route(requests: Iterable[Request]) -> dict[str, dict[str, float | int | None]]:
    """Each prediction route's percentiles apart: a batch of 50 records and a single record are
    different work, and a mix's one percentile would be neither's."""
    requests = list(requests)
    return {
        route: percentiles(r.ms for r in requests if r.route == route)
        for route in PREDICTION_ROUTES
        if any(r.route == route for r in requests)
    }


def window(log: Iterable[Request], start: float, end: float) -> list[Request]:
    return [r for r in log if start <= r.time < end]


def rate_step(
    log: Sequence[Request], offered: float, start: float, end: float, route: str = "/v1/predict"
) -> dict[str, float | None]:
    """One step of offered load: what was offered, intended and achieved, and the latency of
    `route`'s calls from their due time (one route's: a batch is other work)."""
    requests = window(log, start, end)
    seconds = end - start
    answered = [r for r in requests if r.ok]
    late = [r for r in requests if r.late_ms > LATE_MS]
    return {
        "offered_rps": offered,
        "intended_rps": round(len(requests) / seconds, 1),
        "achieved_rps": round(len(answered) / seconds, 1),
        "success": round(len(answered) / len(requests), 4) if requests else None,
        "late_share": round(len(late) / len(requests), 4) if requests else None,
        "route": route,
        **percentiles(r.ms for r in requests if r.route == route),
    }


def success_by_route(requests: Sequence[Request]) -> dict[str, dict[str, float | None]]:
    """Per route: answered (200) over intended, and the p99 of everything intended."""
    routes = {}
    for route in sorted({r.route for r in requests}):
        mine = [r for r in requests if r.route == route]
        routes[route] = {
            "success": round(sum(r.ok for r in mine) / len(mine), 4),
            "p99_ms": percentiles(r.ms for r in mine)["p99_ms"],
            "intended": len(mine),
        }
    return routes


def blast_radius(routes: dict[str, dict], threshold: float = 0.99) -> list[str]:
    """The routes a fault hurt: fewer than 99% of their intended requests answered."""
    return [route for route, figures in routes.items() if figures["success"] < threshold]


def time_to_detect(readiness: Sequence[tuple[float, str]], start: float) -> float | None:
    noticed = [t for t, state in readiness if t >= start and state != "ready"]
    return round(noticed[0] - start, 2) if noticed else None


RECOVERY_WINDOW_S = 2.0  # the sliding window recovery is read from
RECOVERED_SHARE = 0.99  # of its calls answered


def time_to_recover(
    log: Sequence[Request],
    readiness: Sequence[tuple[float, str]],
    end: float,
    window_s: float = RECOVERY_WINDOW_S,
) -> float | None:
    """From the fault's undoing until the calls due in a sliding window of `window_s` seconds
    are 99% answered, and /readyz says ready.

    The window opens on an answered call, and recovery counts to when that call's answer
    *completed*: a restarted process accepts connections at once and may hold them while it
    loads its model, so its due time alone would flatter it. A stray failure after the window
    is not read as still recovering, as the last failure would be.
    """
    if readiness and readiness[-1][1] != "ready":
        return None  # never came back while we watched
    after = sorted((r for r in log if r.time >= end), key=lambda r: r.time)
    answered, closing, good = None, 0, 0
    for opening, first in enumerate(after):
        while closing < len(after) and after[closing].time < first.time + window_s:
            good += after[closing].ok
            closing += 1
        if first.ok and good >= RECOVERED_SHARE * (closing - opening):
            answered = first.time + first.ms / 1000
            break
        good -= first.ok
    if answered is None:
        return None
    not_ready = [t for t, state in readiness if t >= end and state != "ready"]
    probe_back = min(
        (t for t, state in readiness if t > max(not_ready, default=end) and state == "ready"),
        default=end,
    )
    return round(max(answered, probe_back) - end, 2)


def accepted_records(log: Iterable[Request]) -> Counter[str]:
    """Records each 200 acknowledged, by the request's correlation id (unique per request in
    the load generators): what must be in the prediction log."""
    accepted: Counter[str] = Counter()
    for r in predictions(log):
        if r.ok:
            accepted[r.request_id] += r.records
    return accepted


def missing(accepted: Counter[str], logged: Counter[str]) -> int:
    """Acknowledged records the log does not have (a request's extra rows never make up for
    another's missing ones)."""
    return sum((accepted - logged).values())


def timeline(log: Sequence[Request], start: float) -> dict[str, list[int]]:
    """Answered and failed requests per second, for the plots."""
    length = int(max(r.time for r in log) - start) + 1
    ok, failed = [0] * length, [0] * length
    for r in log:
        second = int(r.time - start)
        if second >= 0:
            (ok if r.ok else failed)[second] += 1
    return {"ok": ok, "failed": failed}


def best_by_nodes(scaling: list[dict]) -> dict[str, dict[int, dict]]:
    """Per deployment and node count, the configuration with the highest capacity."""
    best: dict[str, dict[int, dict]] = {}
    for row in scaling:
        current = best.setdefault(row["deployment"], {}).get(row["nodes"])
        if current is None or row["capacity_rps"] > current["capacity_rps"]:
            best[row["deployment"]][row["nodes"]] = row
    return best
