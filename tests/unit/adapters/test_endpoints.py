"""Choosing a stage address: round robin, ejection and its expiry, re-resolution."""

import pytest

from churnlab.adapters.endpoints import Endpoints, NoEndpointError
from tests.unit.adapters.fakes import FakeClock, FakeResolver

A, B, C = "http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000"


def endpoints(
    resolver, clock=None, eject_seconds=1.0, eject_after_failures=3, **options
) -> Endpoints:
    return Endpoints(
        "http://inference:8000",
        eject_seconds=eject_seconds,
        eject_after_failures=eject_after_failures,
        resolve=resolver,
        clock=clock or FakeClock(),
        **options,
    )


def test_every_replica_is_used_in_turn():
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    assert sorted(spread.pick() for _ in range(6)) == [A, A, B, B, C, C]


def test_an_ejected_address_is_skipped_until_its_time_is_up():
    clock = FakeClock()
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2"]), clock)
    spread.eject(A, "ReadTimeoutError")
    assert {spread.pick() for _ in range(4)} == {B}
    assert spread.problems() == f"{A}: ReadTimeoutError"
    clock.now += 1.01
    assert {spread.pick() for _ in range(4)} == {A, B}


def test_an_address_is_ejected_only_after_three_failed_calls_in_a_row():
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2"]))
    for _ in range(2):
        spread.failed(A, "answered 503")
    assert {spread.pick() for _ in range(4)} == {A, B}
    assert spread.problems() == ""
    spread.failed(A, "answered 503")
    assert {spread.pick() for _ in range(4)} == {B}
    assert spread.problems() == f"{A}: answered 503"


def test_a_successful_call_starts_the_failure_count_again():
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2"]))
    for _ in range(2):
        spread.failed(A, "ReadTimeoutError")
    spread.succeeded(A)
    for _ in range(2):
        spread.failed(A, "ReadTimeoutError")
    assert spread.available()
    assert {spread.pick() for _ in range(4)} == {A, B}


def test_an_address_back_from_ejection_gets_its_full_count_again():
    clock = FakeClock()
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2"]), clock)
    for _ in range(3):
        spread.failed(A, "refused")
    clock.now += 1.01
    spread.failed(A, "refused")
    assert {spread.pick() for _ in range(4)} == {A, B}


def test_a_restored_address_is_used_again_at_once():
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2"]))
    spread.eject(A, "refused")
    spread.restore(A)
    assert {spread.pick() for _ in range(4)} == {A, B}


def test_every_address_ejected_fails_fast_rather_than_waiting_on_one():
    spread = endpoints(FakeResolver(inference=["10.0.0.1"]))
    spread.eject(A, "ReadTimeoutError")
    assert not spread.available()
    with pytest.raises(NoEndpointError, match="every address is failing"):
        spread.pick()


def test_ejection_switched_off_keeps_every_address():
    spread = endpoints(FakeResolver(inference=["10.0.0.1"]), eject_seconds=0)
    spread.eject(A, "refused")
    for _ in range(5):
        spread.failed(A, "refused")
    assert spread.pick() == A


def test_avoid_prefers_untried_replicas_but_falls_back_to_tried_ones():
    spread = endpoints(FakeResolver(inference=["10.0.0.1", "10.0.0.2"]))
    assert {spread.pick(avoid={A}) for _ in range(4)} == {B}
    assert spread.pick(avoid={A, B}) in {A, B}


def test_scaling_up_and_down_is_seen_on_refresh():
    resolver = FakeResolver(inference=["10.0.0.1"])
    spread = endpoints(resolver)
    resolver.hosts["inference"] = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    spread.refresh()
    assert spread.addresses == [A, B, C]
    resolver.hosts["inference"] = ["10.0.0.2"]  # scaled down: the stopped replicas drop out
    spread.refresh()
    assert spread.addresses == [B]


def test_a_failed_lookup_keeps_the_last_good_answer():
    resolver = FakeResolver(inference=["10.0.0.1", "10.0.0.2"])
    spread = endpoints(resolver)
    resolver.hosts["inference"] = []  # a DNS hiccup, or every replica stopped
    spread.refresh()
    assert spread.addresses == [A, B]
    assert {spread.pick() for _ in range(4)} == {A, B}
    resolver.hosts["inference"] = ["10.0.0.3"]
    spread.refresh()
    assert spread.addresses == [C]


def test_each_name_keeps_its_own_last_good_answer():
    resolver = FakeResolver(one=["10.0.0.1"], two=["10.0.0.2"])
    spread = Endpoints(
        "http://one:8000, http://two:8000",
        eject_seconds=1.0,
        eject_after_failures=3,
        resolve=resolver,
        clock=FakeClock(),
    )
    del resolver.hosts["one"]
    resolver.hosts["two"] = ["10.0.0.3"]
    spread.refresh()
    assert spread.addresses == [A, C]


def test_a_name_that_never_resolved_has_no_address():
    spread = endpoints(FakeResolver())
    with pytest.raises(NoEndpointError, match="no address resolves"):
        spread.pick()
    assert not spread.available()


def test_a_url_without_a_port_is_called_on_port_80():
    spread = Endpoints(
        "http://inference",
        eject_seconds=1.0,
        eject_after_failures=3,
        resolve=FakeResolver(inference=["10.0.0.1"]),
    )
    assert spread.addresses == ["http://10.0.0.1:80"]


def test_a_failure_re_resolves_so_a_replacement_container_is_found():
    clock = FakeClock()
    resolver = FakeResolver(inference=["10.0.0.1"])
    spread = endpoints(resolver, clock)
    resolver.hosts["inference"] = ["10.0.0.9"]  # recreated with a new address
    clock.now += 0.5
    spread.failed(A, "refused")
    assert spread.addresses == ["http://10.0.0.9:8000"]
    spread.restore("http://10.0.0.9:8000")  # its first probe passed
    assert spread.pick() == "http://10.0.0.9:8000"


def test_a_new_replica_is_called_only_once_a_probe_has_passed_on_it():
    resolver = FakeResolver(inference=["10.0.0.1"])
    spread = endpoints(resolver)
    assert spread.pick() == A  # the first lookup's addresses are called at once
    resolver.hosts["inference"] = ["10.0.0.1", "10.0.0.2"]  # scaled up: B still loading
    spread.refresh()
    assert {spread.pick() for _ in range(4)} == {A}
    assert spread.problems() == f"{B}: not probed yet"
    spread.restore(B)
    assert {spread.pick() for _ in range(4)} == {A, B}
    assert spread.problems() == ""


def test_only_new_replicas_that_are_not_probed_yet_leave_the_stage_without_an_address():
    resolver = FakeResolver(inference=["10.0.0.1"])
    spread = endpoints(resolver)
    resolver.hosts["inference"] = ["10.0.0.2"]  # recreated: the replacement is loading
    spread.refresh()
    assert not spread.available()
    with pytest.raises(NoEndpointError, match="not probed yet"):
        spread.pick()
    resolver.hosts["inference"] = ["10.0.0.1"]  # an address that left and came back is new too
    spread.refresh()
    assert not spread.available()


def test_without_probes_new_replicas_are_called_at_once():
    resolver = FakeResolver(inference=["10.0.0.1"])
    spread = endpoints(resolver, probe_new_addresses=False)
    resolver.hosts["inference"] = ["10.0.0.1", "10.0.0.2"]
    spread.refresh()
    assert {spread.pick() for _ in range(4)} == {A, B}
