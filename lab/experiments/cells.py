"""The finished pieces of one `make compare`, each kept as a file the moment it is done, so that
an interrupted run resumes from the cells it finished instead of starting over.

A run's cells live in `<out>/cells/<plan>/`, beside the plan they were measured with; a run of
another plan (or of a changed one) refuses them rather than mixing them in. A run that
finishes moves its cells aside (`<plan>-<finished>`), so the next run starts fresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


class PlanChangedError(RuntimeError):
    """The cells on disk were measured with another plan."""


class Cells:
    def __init__(self, root: Path, plan: dict) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        recorded = root / "plan.json"
        plan = json.loads(json.dumps(plan))  # as it is kept: a tuple reads back as a list
        if recorded.exists() and json.loads(recorded.read_text()) != plan:
            raise PlanChangedError(f"{root} holds cells of another plan: move it aside")
        _write(recorded, plan)

    def has(self, key: str) -> bool:
        return self._path(key).exists()

    def get(self, key: str, produce: Callable[[], Any]) -> Any:
        """The cell's kept value, or `produce()`'s, kept before it is returned."""
        if self.has(key):
            return json.loads(self._path(key).read_text())
        value = produce()
        _write(self._path(key), value)
        return value

    def finish(self, stamp: str) -> Path:
        """Moves the cells aside, so the next run measures afresh."""
        kept = self.root.with_name(f"{self.root.name}-{stamp}")
        self.root.rename(kept)
        return kept

    def __len__(self) -> int:
        return sum(1 for path in self.root.glob("*.json") if path.name != "plan.json")

    def _path(self, key: str) -> Path:
        return self.root / f"{key.replace(' ', '-').replace('/', '-')}.json"


def _write(path: Path, value: Any) -> None:
    """Whole or not at all: a run killed mid-write leaves no half a cell to resume from."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(partial, path)
