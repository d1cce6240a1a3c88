"""Client-side load spreading: every address behind a stage's URLs, in turn, minus failed ones.

A Compose or Swarm (dnsrr) service name resolves to one address per replica, so re-resolving
it finds replicas as they are scaled up, and drops them as they stop; names are re-resolved at
once when an address fails (at most every REFRESH_MIN_SECONDS), so a replacement container is
found without waiting for the next round. An address that fails a
call or a health probe is ejected: skipped for `eject_seconds`, or until a probe passes again.
When every address is ejected the stage is down, and callers fail fast instead of waiting out a
timeout on it. Kept small on purpose: the one job here is choosing an address; retries and
breaking live in the stage client, probing in the health watch.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

Resolver = Callable[[str, int], list[str]]
REFRESH_MIN_SECONDS = 0.1


class NoEndpointError(Exception):
    """No address to call: none resolves, or every one is ejected."""


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to now; none while it does not resolve (a stopped replica)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({info[4][0] for info in infos})


class Endpoints:
    def __init__(
        self,
        urls: str,
        *,
        eject_seconds: float,
        resolve: Resolver = resolve_addresses,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._targets: list[SplitResult] = [
            urlsplit(url.strip()) for url in urls.split(",") if url.strip()
        ]
        self._eject_seconds = eject_seconds
        self._resolve = resolve
        self._clock = clock
        self._addresses: list[str] = []
        self._ejected: dict[str, tuple[float, str]] = {}  # address -> (until, why)
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._resolved_at = 0.0
        self.refresh()

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    @property
    def names(self) -> str:
        return ", ".join(target.geturl() for target in self._targets)

    def refresh(self) -> None:
        self._resolved_at = self._clock()
        addresses = []
        for target in self._targets:
            for host in self._resolve(target.hostname or "", target.port or 80):
                shown = f"[{host}]" if ":" in host else host
                addresses.append(f"{target.scheme}://{shown}:{target.port}")
        self._addresses = addresses

    def pick(self, avoid: frozenset[str] | set[str] = frozenset()) -> str:
        """The next address in turn that is not ejected and not in `avoid` (tried already).

        With every address ejected the stage is down: NoEndpointError, at once.
        """
        addresses = self._addresses
        if not addresses:
            raise NoEndpointError(f"no address resolves for {self.names}")
        now = self._clock()
        healthy = [a for a in addresses if self._ejected.get(a, (0.0, ""))[0] <= now]
        if not healthy:
            raise NoEndpointError(f"every address is failing: {self.problems()}")
        candidates = [a for a in healthy if a not in avoid] or healthy
        return candidates[next(self._turn) % len(candidates)]

    def available(self) -> bool:
        """Whether `pick` would find an address now."""
        now = self._clock()
        return any(self._ejected.get(a, (0.0, ""))[0] <= now for a in self._addresses)

    def eject(self, address: str, why: str) -> None:
        now = self._clock()
        if self._eject_seconds > 0:
            with self._lock:
                self._ejected[address] = (now + self._eject_seconds, why)
        if now - self._resolved_at >= REFRESH_MIN_SECONDS:
            self.refresh()

    def restore(self, address: str) -> None:
        with self._lock:
            self._ejected.pop(address, None)

    def problems(self) -> str:
        """Why each ejected address is out, for readiness and errors."""
        now = self._clock()
        return "; ".join(
            f"{address}: {why}"
            for address, (until, why) in self._ejected.items()
            if until > now and address in self._addresses
        )
