"""CPU seconds used by a process tree (a gunicorn master and its workers, or supervisord and
everything it runs), read from /proc: how much machine a request really costs."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            pending += [int(child) for child in task.read_text().split()]
    return found


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
