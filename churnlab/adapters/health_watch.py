"""A stage's readiness kept by a background thread, so that /readyz never waits on a stage.

Every round re-resolves the stage's names (at most every `resolve_every_seconds`) and probes
each address's /readyz with a short timeout: a failed probe ejects the address and a passing one
restores it at once. A hung stage is so taken out of rotation even before a request fails on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from churnlab.adapters.endpoints import Endpoints
from churnlab.workflow import READY

logger = logging.getLogger(__name__)
Probe = Callable[[str], str | None]  # address -> None when ready, else why not


class HealthWatch:
    def __init__(
        self,
        endpoints: Endpoints,
        probe: Probe,
        *,
        every_seconds: float,
        resolve_every_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._endpoints = endpoints
        self._probe = probe
        self._every_seconds = every_seconds
        self._resolve_every_seconds = resolve_every_seconds
        self._clock = clock
        self._resolved_at = clock()
        self.state = "not checked yet"

    def start(self) -> HealthWatch:
        """Probe in the background; with `every_seconds` 0 only `check_once` probes (tests)."""
        if self._every_seconds > 0:
            threading.Thread(target=self._keep_checking, name="health-watch", daemon=True).start()
        return self

    def check_once(self) -> str:
        if self._clock() - self._resolved_at >= self._resolve_every_seconds:
            self._resolved_at = self._clock()
            self._endpoints.refresh()
        ready, problems = False, []
        for address in self._endpoints.addresses:
            try:
                problem = self._probe(address)
            except Exception as error:  # one address's odd failure must not skip the rest
                problem = f"probe failed: {type(error).__name__}"
            if problem is None:
                self._endpoints.restore(address)
                ready = True
            else:
                self._endpoints.eject(address, problem)
                problems.append(f"{address}: {problem}")
        if ready:
            self.state = READY
        else:
            self.state = "; ".join(problems) or f"no address resolves for {self._endpoints.names}"
        return self.state

    def _keep_checking(self) -> None:
        while True:
            try:
                self.check_once()
            except Exception:  # the watch must outlive any one bad round
                logger.exception("health check round failed")
            time.sleep(self._every_seconds)
