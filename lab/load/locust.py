"""Run Locust headless for a bounded time against a loopback URL, and read back its exact
per-request log (lab/locustfile.py writes it): what tests and experiments analyse."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab.load.cpu import MachineTimes, machine_times, tree_cpu_seconds
from runtimes.paths import ROOT


@dataclass(frozen=True)
class Request:
    """One request as the generator saw it. `time` is when it was sent (closed loop) or due
    (open loop), in epoch seconds; `ms` runs from then to its answer."""

    time: float
    route: str
    ok: bool
    ms: float
    request_id: str
    records: int
    late_ms: float = 0.0
    status: int = 200


@dataclass(frozen=True)
class Sample:
    """The generator's CPU and the machine's, read together every half second of a run: the
    CPU a window of it used, apart from start-up and drain."""

    time: float  # epoch seconds
    generator_cpu_seconds: float
    machine: MachineTimes


@dataclass(frozen=True)
class LocustRun:
    requests: list[Request]
    generator_cpu_seconds: float
    seconds: float
    niceness: int | None = None  # the generator's, as the kernel had it during the run
    samples: tuple[Sample, ...] = ()

    def usage(self, start: float, end: float) -> dict[str, float] | None:
        """Between the first and last samples inside [start, end]: the generator's CPU in
        CPU-seconds a second, and the share of the machine's CPU time the hypervisor stole;
        None when fewer than two samples fall inside."""
        inside = [s for s in self.samples if start <= s.time <= end]
        if len(inside) < 2 or inside[-1].time <= inside[0].time:
            return None
        first, last = inside[0], inside[-1]
        return {
            "generator_cpus": (last.generator_cpu_seconds - first.generator_cpu_seconds)
            / (last.time - first.time),
            "steal_share": first.machine.steal_share(last.machine),
        }


GENERATOR_NICENESS = -10  # ten times a default process's CPU weight when they compete


def run_locust(
    url: str,
    log: Path,
    *,
    shape: str,
    seconds: float,
    loop: str = "closed",
    cpus: str | None = None,
    **settings: str | int | float | bool,
) -> LocustRun:
    """Locust on `url` with a load shape (lab/shapes/<shape>.py), for at most `seconds` plus a
    margin; `users` is Locust's -u, and the other `settings` the locustfile's custom arguments
    (step_seconds=5 is --step-seconds 5). With `cpus` (a CPU list such as "0") the generator
    runs on those CPUs only, apart from what it measures."""
    if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):  # the Swarm's: HTTPS
        raise ValueError("load is only ever sent to loopback")
    log.parent.mkdir(parents=True, exist_ok=True)
    options = {"loop": loop, "request_log": log, **settings}
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        f"lab/locustfile.py,lab/shapes/{shape}.py",
        "--run-time",
        f"{math.ceil(seconds)}s",
        *(["--users", str(options.pop("users"))] if "users" in options else []),
        *(arg for name, value in options.items() for arg in _arguments(name, value)),
        "--headless",
        "--host",
        url,
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--csv",
        str(log.with_suffix("")),
        "--csv-full-history",
    ]
    generator = subprocess.Popen(
        as_generator(command, cpus),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    used, niceness, deadline = 0.0, None, time.monotonic() + seconds + 60
    samples: list[Sample] = []
    try:
        while generator.poll() is None and time.monotonic() < deadline:
            used = max(used, tree_cpu_seconds(generator.pid))  # sampled: gone once it exits
            samples.append(Sample(time.time(), used, machine_times()))
            with contextlib.suppress(ProcessLookupError):
                niceness = os.getpriority(os.PRIO_PROCESS, generator.pid)
            try:
                generator.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()
    return LocustRun(read_request_log(log), used, seconds, niceness, tuple(samples))


def as_generator(command: list[str], cpus: str | None) -> list[str]:
    """A load generator's command, on `cpus` only (where given) and ahead of other processes
    there: its sends are timed, and another process on its CPUs must not make them late.
    Where it may not be reniced (not root), nice runs it as it is; its late share says
    whether it kept up."""
    if cpus is not None and shutil.which("taskset"):
        command = ["taskset", "-c", cpus, *command]
    if shutil.which("nice"):
        command = ["nice", "-n", str(GENERATOR_NICENESS), *command]
    return command


def _arguments(setting: str, value: str | int | float | bool) -> tuple[str, ...]:
    """step_seconds=5 is `--step-seconds 5`; a switch is its flag when True, nothing when
    False."""
    flag = "--" + setting.replace("_", "-")
    if isinstance(value, bool):
        return (flag,) if value else ()
    return (flag, str(value))


def steady_open_load(
    url: str,
    log: Path,
    *,
    rate: float,
    seconds: float,
    cpus: str | None = None,
    drain_seconds: float = 0.0,
    **settings: str | int | float | bool,
) -> LocustRun:
    """One offered rate held for `seconds`, open loop: the load cost and fault runs stand in.
    With `drain_seconds`, the calls still in flight at the end are answered (or time out) and
    logged before the generator stops, rather than dropped. `settings` are the locustfile's
    other arguments (mix="single")."""
    return run_locust(
        url,
        log,
        loop="open",
        shape="rates",
        seconds=seconds + drain_seconds + (1 if drain_seconds else 0),
        cpus=cpus,
        rates=f"{rate:g}",
        # Users offer 5/s at most, each the same share, so any rate is offered exactly.
        rate_per_user=rate / math.ceil(rate / 5),
        step_seconds=seconds,
        drain_seconds=drain_seconds,
        **settings,
    )


# Past the edge's 5 s request timeout: every call in flight at a run's end ends logged.
DRAIN_SECONDS = 6.0


# How long the generator takes to send its first request (seen: about 3 s): a fault run's load
# lasts this much longer, so that the phase after the fault is as long as asked.
GENERATOR_START_SECONDS = 5.0
# How much later than its shape's clock a step's first call can leave (seen: 1.3 s, on a loaded
# core): a window timed from that call is kept inside its step by a step this much longer.
FIRST_CALL_SLACK_SECONDS = 2.0


def wait_for_first_request(log: Path, timeout: float = 120) -> None:
    """Until the load's request log has its first request: the generator takes seconds to
    start, and a fault timed from before that would strike before the baseline it needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 2:  # the header, and a row
            return
        time.sleep(0.1)
    raise TimeoutError(f"no request in {log} within {timeout:g} s")


def read_request_log(log: Path) -> list[Request]:
    with log.open(newline="") as stream:
        return [
            Request(
                time=float(row["time"]),
                route=row["route"],
                ok=row["ok"] == "1",
                ms=float(row["ms"]),
                request_id=row["request_id"],
                records=int(row["records"]),
                late_ms=float(row["late_ms"]),
                status=int(row["status"]),
            )
            for row in csv.DictReader(stream)
        ]
