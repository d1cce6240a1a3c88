"""Poll /readyz in the background through a fault: when the system noticed, and when it was
ready again."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests

POLL_SECONDS = 0.25


@dataclass
class ReadinessWatch:
    url: str
    samples: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ReadinessWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                state = requests.get(f"{self.url}/readyz", timeout=1).json().get("status", "?")
            except (requests.RequestException, ValueError):
                state = "unreachable"
            self.samples.append((time.time(), state))
            self._stop.wait(POLL_SECONDS)
