"""What every figures file of the lab's commands holds and where it goes: the command, the date
and the machine it was measured on, then the figures, as JSON with its Markdown summary beside."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lab.machine import machine


def stamped(command: str, **figures: object) -> dict:
    """A new figures record: which command measured it, when (UTC) and on what machine."""
    return {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        **figures,
    }


def write_figures(figures: dict, path: Path, summary: str) -> None:
    """The figures as JSON at `path`, and their summary beside it as Markdown (same stem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    path.with_suffix(".md").write_text(summary)
