"""Client-side load spreading: every address behind a stage's URLs, in turn, minus failed ones.

A Compose or Swarm (dnsrr) service name resolves to one address per replica, so re-resolving
it finds replicas as they are scaled up, and drops them as they stop while the name still
resolves to others; names are re-resolved at once when a call fails (at most every
REFRESH_MIN_SECONDS), so a replacement container is found without waiting for the next round. A
lookup that fails keeps the addresses the name last resolved to: a DNS hiccup must not empty a
stage whose replicas are up, and replicas that are really gone fail their calls and probes.

An address that appears after the first lookup (a replica started since, or a replacement)
is not called until a health probe has passed on it: a container's name resolves as soon as it
starts, while its server is still loading (a rollout's predictions waited there past their read
timeout). The addresses of the first lookup are called at once: the caller's own readiness
waits for its first round of probes anyway. (If that lookup found nothing, every address found
later waits for its probe, as a stage still starting should.)

An address is ejected (skipped for `eject_seconds`, or until a probe passes again) after
`eject_after_failures` failed calls in a row, so that one lost connection or slow answer does
not take a healthy replica out of rotation, or at once when a health probe fails: the probe is
the active check, as in Envoy's active health checking beside its outlier detection. When every
address is ejected the stage is down, and callers fail fast instead of waiting out a timeout on
it. Kept small on purpose: the one job here is choosing an address; retries and breaking live in
the stage client, probing in the health watch.
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
    """Every address `host` resolves to now; none when the lookup fails (a stopped replica, or a
    DNS hiccup), which Endpoints answers by keeping the addresses it last resolved to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({info[4][0] for info in infos})


def _url(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{scheme}://{shown}:{port}"


class Endpoints:
    def __init__(
        self,
        urls: str,
        *,
        eject_seconds: float,
        eject_after_failures: int,
        resolve: Resolver = resolve_addresses,
        clock: Callable[[], float] = time.monotonic,
        probe_new_addresses: bool = True,
    ) -> None:
        """`probe_new_addresses` False (no health watch to probe them): new addresses are
        called at once."""
        self._targets: list[SplitResult] = [
            urlsplit(url.strip()) for url in urls.split(",") if url.strip()
        ]
        self._eject_seconds = eject_seconds
        self._eject_after_failures = max(eject_after_failures, 1)
        self._resolve = resolve
        self._clock = clock
        self._last_resolved: dict[SplitResult, list[str]] = {}  # target -> its last good answer
        self._addresses: list[str] = []
        self._failures: dict[str, int] = {}  # address -> failed calls in a row
        self._ejected: dict[str, tuple[float, str]] = {}  # address -> (until, why)
        self._probe_new_addresses = False  # the first lookup's addresses are called at once
        self._unprobed: set[str] = set()  # new since the first lookup, no probe passed yet
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._resolved_at = 0.0
        self.refresh()
        self._probe_new_addresses = probe_new_addresses

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    @property
    def names(self) -> str:
        return ", ".join(target.geturl() for target in self._targets)

    def refresh(self) -> None:
        """Re-resolve every name; one whose lookup fails keeps its last answer."""
        self._resolved_at = self._clock()
        for target in self._targets:
            port = target.port or 80
            hosts = self._resolve(target.hostname or "", port)
            if hosts:
                self._last_resolved[target] = [_url(target.scheme, host, port) for host in hosts]
        addresses = [
            address for target in self._targets for address in self._last_resolved.get(target, [])
        ]
        with self._lock:
            if self._probe_new_addresses:
                self._unprobed |= set(addresses) - set(self._addresses)
            self._unprobed &= set(addresses)
            self._addresses = addresses

    def pick(self, avoid: frozenset[str] | set[str] = frozenset()) -> str:
        """The next address in turn that is not ejected and not in `avoid` (tried already).

        With every address ejected the stage is down: NoEndpointError, at once.
        """
        addresses = self._addresses
        if not addresses:
            raise NoEndpointError(f"no address resolves for {self.names}")
        healthy = self._callable(addresses)
        if not healthy:
            raise NoEndpointError(f"every address is failing: {self.problems()}")
        candidates = [a for a in healthy if a not in avoid] or healthy
        return candidates[next(self._turn) % len(candidates)]

    def available(self) -> bool:
        """Whether `pick` would find an address now."""
        return bool(self._callable(self._addresses))

    def _callable(self, addresses: list[str]) -> list[str]:
        """Those neither ejected nor new and not yet probed."""
        now = self._clock()
        return [
            a
            for a in addresses
            if self._ejected.get(a, (0.0, ""))[0] <= now and a not in self._unprobed
        ]

    def failed(self, address: str, why: str) -> None:
        """A call to `address` failed: ejected once `eject_after_failures` have in a row."""
        with self._lock:
            failures = self._failures.get(address, 0) + 1
            self._failures[address] = failures
        if failures >= self._eject_after_failures:
            self.eject(address, why)
        else:
            self._refresh_soon()

    def succeeded(self, address: str) -> None:
        """A call to `address` was answered: its failures in a row start again from none."""
        with self._lock:
            self._failures.pop(address, None)

    def eject(self, address: str, why: str) -> None:
        """Skip `address` for `eject_seconds` from now: a failed probe, or failed calls in a row."""
        with self._lock:
            self._failures.pop(address, None)
            if self._eject_seconds > 0:
                self._ejected[address] = (self._clock() + self._eject_seconds, why)
        self._refresh_soon()

    def restore(self, address: str) -> None:
        """A probe passed on `address`: called again, or for the first time."""
        with self._lock:
            self._ejected.pop(address, None)
            self._unprobed.discard(address)

    def problems(self) -> str:
        """Why each ejected address is out, for readiness and errors."""
        now = self._clock()
        with self._lock:  # the health watch ejects and restores meanwhile
            ejected, unprobed = list(self._ejected.items()), sorted(self._unprobed)
        return "; ".join(
            [
                f"{address}: {why}"
                for address, (until, why) in ejected
                if until > now and address in self._addresses
            ]
            + [f"{address}: not probed yet" for address in unprobed]
        )

    def _refresh_soon(self) -> None:
        """Re-resolve after a failure, so a replacement container is found: at most every
        REFRESH_MIN_SECONDS, since every failing call asks."""
        if self._clock() - self._resolved_at >= REFRESH_MIN_SECONDS:
            self.refresh()
