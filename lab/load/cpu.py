"""CPU seconds used by a process tree (a gunicorn master and its workers, or supervisord and
everything it runs), read from /proc: how much machine a request really costs; and the
machine's own CPU times, whose steal says when a hypervisor took CPUs away from a measurement."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """`pid` and every live descendant, or none once it has gone. A tree is read while it
    changes (threads and children come and go between two reads), which psutil tolerates."""
    try:
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and every live descendant (reaped children included)."""
    total = 0
    for process in descendants(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, counted after the ") " here.
        total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def tree_resident_bytes(pid: int) -> int:
    """Resident memory of `pid` and every live descendant (shared pages counted in each)."""
    total = 0
    for process in descendants(pid):
        try:
            total += psutil.Process(process).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass(frozen=True)
class MachineTimes:
    """All CPUs' time since boot, and the part of it a hypervisor gave to other guests."""

    steal_seconds: float
    total_seconds: float

    def steal_share(self, later: MachineTimes) -> float:
        elapsed = later.total_seconds - self.total_seconds
        return (later.steal_seconds - self.steal_seconds) / elapsed if elapsed > 0 else 0.0


def machine_times() -> MachineTimes:
    times = psutil.cpu_times()
    # Linux counts guest time inside user time: the rest of the fields add up to wall time.
    counted = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return MachineTimes(getattr(times, "steal", 0.0), counted)
