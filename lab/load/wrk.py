"""Drive an HTTP endpoint with wrk (Debian package `wrk`) for a bounded time on loopback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_LUA_POST = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    median_ms: float
    p99_ms: float


class FailedCallsError(RuntimeError):
    """A run in which some calls got no 2xx answer: its rate is not a rate of answers."""


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed for the HTTP benchmark: apt-get install wrk")
    return path


def run_wrk(
    url: str, *, body: dict | None = None, seconds: int = 5, connections: int = 8
) -> WrkResult:
    """GET `url`, or POST `body` as JSON, for `seconds` over `connections` keep-alive links.
    Every call must be answered with a 2xx: wrk counts the others in its rate, so a run with
    any (or with a socket error: refused, reset, timed out) raises FailedCallsError instead."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("benchmarks only target loopback addresses")
    command = [require_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.TemporaryDirectory() as scratch:
        if body is not None:
            script = Path(scratch) / "post.lua"
            script.write_text(_LUA_POST.format(body=json.dumps(json.dumps(body))))
            command += ["-s", str(script)]
        output = subprocess.run(
            [*command, url], check=True, capture_output=True, text=True, timeout=seconds + 30
        ).stdout
    if failed := failed_calls(output):
        raise FailedCallsError(f"{failed} of wrk's calls to {url} failed")
    return WrkResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        median_ms=_latency(output, "50%"),
        p99_ms=_latency(output, "99%"),
    )


def failed_calls(output: str) -> int:
    """Calls wrk's report counts as not answered: non-2xx/3xx responses and socket errors."""
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(map(int, sockets.groups())) if sockets else 0
    )


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
