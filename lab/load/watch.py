"""Poll in the background through a fault: readiness here (when the system noticed, and when it
was ready again); the swarm's node and task states in experiments/node_faults.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Self

import requests

POLL_SECONDS = 0.25


class BackgroundPoll:
    """Takes `sample()` every `every_seconds` in a thread for the length of a `with` block,
    keeping each one that is not None in `samples`."""

    every_seconds = POLL_SECONDS

    def __enter__(self) -> Self:
        self.samples: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> tuple | None:
        raise NotImplementedError

    def _poll(self) -> None:
        while not self._stop.is_set():
            taken = self.sample()
            if taken is not None:
                self.samples.append(taken)
            self._stop.wait(self.every_seconds)


@dataclass
class ReadinessWatch(BackgroundPoll):
    url: str

    def sample(self) -> tuple[float, str]:
        try:
            state = requests.get(f"{self.url}/readyz", timeout=1).json().get("status", "?")
        except (requests.RequestException, ValueError):
            state = "unreachable"
        return time.time(), state
