"""The health watch with the endpoints it keeps: new replicas join on a passing probe."""

from churnlab.adapters.endpoints import Endpoints
from churnlab.adapters.health_watch import HealthWatch
from churnlab.workflow import READY
from tests.unit.adapters.fakes import FakeClock, FakeResolver

A, B, C = "http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000"


def watched(resolver: FakeResolver, probe, eject_seconds: float = 1.0):
    clock = FakeClock()
    endpoints = Endpoints(
        "http://inference:8000",
        eject_seconds=eject_seconds,
        eject_after_failures=3,
        resolve=resolver,
        clock=clock,
    )
    watch = HealthWatch(endpoints, probe, every_seconds=0, resolve_every_seconds=1.0, clock=clock)
    return endpoints, watch, clock


def test_a_scaled_up_replica_joins_once_its_probe_passes():
    loading = {B}
    resolver = FakeResolver(inference=["10.0.0.1"])
    endpoints, watch, clock = watched(resolver, lambda a: "loading" if a in loading else None)
    resolver.hosts["inference"] = ["10.0.0.1", "10.0.0.2"]
    clock.now += 1.0
    assert watch.check_once() == READY
    assert {endpoints.pick() for _ in range(4)} == {A}  # still loading: not called
    loading.clear()
    clock.now += 1.1  # past the ejection its failed probe made
    watch.check_once()
    assert {endpoints.pick() for _ in range(4)} == {A, B}


def test_with_ejection_switched_off_a_new_replica_still_waits_for_its_probe():
    loading = {B}
    resolver = FakeResolver(inference=["10.0.0.1"])
    endpoints, watch, clock = watched(
        resolver, lambda a: "loading" if a in loading else None, eject_seconds=0
    )
    resolver.hosts["inference"] = ["10.0.0.1", "10.0.0.2"]
    clock.now += 1.0
    watch.check_once()
    assert {endpoints.pick() for _ in range(4)} == {A}
    loading.clear()
    watch.check_once()
    assert {endpoints.pick() for _ in range(4)} == {A, B}


def test_a_probe_that_raises_does_not_keep_the_others_from_being_probed():
    def probe(address: str) -> str | None:
        if address == A:
            raise UnicodeError("label too long")
        return None

    resolver = FakeResolver(inference=["10.0.0.1"])
    endpoints, watch, clock = watched(resolver, probe)
    resolver.hosts["inference"] = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    clock.now += 1.0
    assert watch.check_once() == READY
    assert {endpoints.pick() for _ in range(4)} == {B, C}
    assert endpoints.problems() == f"{A}: probe failed: UnicodeError"
