"""Client-side load spreading: every address behind a stage's URLs, in turn, minus failed ones.

A Compose service name resolves to one address per replica, so re-resolving it every second
finds replicas as they are scaled up, and drops them as they stop. An address that fails a call
is skipped for `eject_seconds` at once, and the names are re-resolved then too (at most every
REFRESH_MIN_SECONDS), so a replica that is gone stops being tried at once. Kept small on purpose:
the one job here is choosing an address; retries and breaking live in the stage client.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from urllib.parse import urlsplit

REFRESH_MIN_SECONDS = 0.1


class NoEndpointError(Exception):
    """None of the stage's host names resolves to any address."""


class Endpoints:
    def __init__(self, urls: str, *, eject_seconds: float, resolve_every_seconds: float) -> None:
        self._targets = [urlsplit(url.strip()) for url in urls.split(",") if url.strip()]
        self._eject_seconds = eject_seconds
        self._addresses: list[str] = []
        self._ejected_until: dict[str, float] = {}
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._resolved_at = 0.0
        self.refresh()
        if resolve_every_seconds > 0:
            threading.Thread(
                target=self._keep_resolving, args=(resolve_every_seconds,), daemon=True
            ).start()

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    def refresh(self) -> None:
        self._resolved_at = time.monotonic()
        addresses = []
        for target in self._targets:
            try:
                infos = socket.getaddrinfo(target.hostname, target.port, type=socket.SOCK_STREAM)
            except socket.gaierror:
                continue  # a stopped single replica: no address, callers fail fast
            for host in sorted({info[4][0] for info in infos}):
                shown = f"[{host}]" if ":" in host else host
                addresses.append(f"{target.scheme}://{shown}:{target.port}")
        self._addresses = addresses

    def _keep_resolving(self, every_seconds: float) -> None:
        while True:
            time.sleep(every_seconds)
            self.refresh()

    def pick(self, avoid: set[str] = frozenset()) -> str:
        """The next address in turn that has not failed lately and is not in `avoid`.

        If every address failed lately, one is tried anyway: better a fast retry than a refusal.
        """
        addresses = self._addresses
        if not addresses:
            raise NoEndpointError(", ".join(target.geturl() for target in self._targets))
        now = time.monotonic()
        fresh = [a for a in addresses if a not in avoid]
        healthy = [a for a in fresh if self._ejected_until.get(a, 0.0) <= now]
        candidates = healthy or fresh or addresses
        return candidates[next(self._turn) % len(candidates)]

    def eject(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._ejected_until[address] = now + self._eject_seconds
            stale = now - self._resolved_at >= REFRESH_MIN_SECONDS
        if stale:
            self.refresh()
