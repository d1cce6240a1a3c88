"""A second open-loop generator, httperf (Debian package `httperf`), to cross-check Locust's
curve: Poisson arrivals at a set rate (`--period e`), single predictions of real records, each
on a connection of its own, for a bounded count on loopback.

httperf times a call from its connection's start to its answer's end, and keeps those times in
1 ms bins (its "connection lifetime histogram", printed at `-v -v`): its percentiles are read
from there, to the bin (analysis.binned_percentiles).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lab.load.locust import as_generator

BIN_MS = 1.0  # httperf's histogram bins
TIMEOUT_SECONDS = 5  # a call's, as the edge's own request timeout


@dataclass(frozen=True)
class HttperfRun:
    offered_rps: float
    seconds: float  # httperf's test duration
    calls: int  # requests sent
    answered: int  # 2xx replies
    errors: int  # timeouts, refused and reset connections, and others
    histogram: dict[float, int]  # a bin's lower edge (ms) to the calls whose time fell in it
    cpu_share: float  # of one CPU, as httperf reports it (it polls: high even when idle)

    @property
    def achieved_rps(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def require_httperf() -> str:
    path = shutil.which("httperf")
    if path is None:
        raise SystemExit(
            "httperf is needed for the generators' cross-check: apt-get install httperf"
        )
    return path


def sessions_file(records: list[dict], path: Path) -> Path:
    """One session per record, each a single POST of it (httperf's --wsesslog format), used in
    turn."""
    lines = []
    for record in records:
        body = json.dumps(record).replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'/v1/predict method=POST contents="{body}"\n')
    path.write_text("\n".join(lines))
    return path


def run_httperf(
    url: str, rate: float, seconds: float, sessions: Path, cpus: str | None = None
) -> HttperfRun:
    """`rate` times `seconds` single predictions, Poisson arrivals at mean rate `rate`."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("load is only ever sent to loopback")
    address = urlsplit(url)
    calls = max(1, round(rate * seconds))
    command = [
        require_httperf(),
        f"--server={address.hostname}",
        f"--port={address.port}",
        f"--wsesslog={calls},0,{sessions}",
        f"--period=e{1 / rate:.6f}",
        f"--timeout={TIMEOUT_SECONDS}",
        "--add-header=Content-Type: application/json\\n",
        "--verbose",
        "--verbose",
    ]
    timeout = seconds + 2 * TIMEOUT_SECONDS + 60
    done = subprocess.run(
        as_generator(command, cpus), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"httperf failed ({done.returncode}): {done.stderr[-500:]}")
    return parse(done.stdout, rate)


def parse(output: str, rate: float) -> HttperfRun:
    """httperf's report (at -v -v) into a run."""
    total = re.search(
        r"Total: connections \d+ requests (\d+) replies \d+ test-duration ([\d.]+) s", output
    )
    status = re.search(r"Reply status: 1xx=\d+ 2xx=(\d+)", output)
    errors = re.search(r"Errors: total (\d+)", output)
    cpu = re.search(r"CPU time \[s\]: .*total ([\d.]+)%\)", output)
    if not (total and status and errors and cpu):
        raise ValueError(f"not an httperf report: {output[-500:]!r}")
    return HttperfRun(
        offered_rps=rate,
        seconds=float(total.group(2)),
        calls=int(total.group(1)),
        answered=int(status.group(1)),
        errors=int(errors.group(1)),
        histogram=_histogram(output),
        cpu_share=round(float(cpu.group(1)) / 100, 3),
    )


def _histogram(output: str) -> dict[float, int]:
    """The connection lifetime histogram's rows ("  2.5 13": 13 calls in [2, 3) ms)."""
    lines = output.split("Connection lifetime histogram (time in ms):", 1)[-1].splitlines()
    histogram = {}
    for line in lines[1:]:
        row = re.fullmatch(r"\s+([\d.]+)\s+(\d+)", line)
        if row:
            histogram[float(row.group(1)) - BIN_MS / 2] = int(row.group(2))
        elif line.strip() != ":":
            break
    return histogram
