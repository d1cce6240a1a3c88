"""The gateway's spool for real: whole requests in arrival order, keys checked locally, a cap
that refuses rather than fills the disk, dead letters, and erasure."""

import dataclasses

import pytest

from churnlab.adapters.spool import Spool
from churnlab.domain.errors import IdempotencyConflictError, StorageUnavailableError
from tests.integration.adapters.conftest import recording


def test_requests_queue_whole_and_in_order(tmp_path, customer):
    spool = Spool(tmp_path / "spool.sqlite3")
    first, second = recording([customer] * 3, "first"), recording([customer], "second")
    outcome = spool.put(first)
    assert (outcome.logged, outcome.copies, outcome.replayed) == (False, 1, False)
    spool.put(second)
    replayed = [dataclasses.replace(r, spooled=True) for r in (first, second)]
    assert [r for _, r in spool.oldest(10)] == replayed  # marked as replays
    assert spool.depth()[0] == 4
    spool.remove([seq for seq, _ in spool.oldest(1)])
    assert [r.request_id for _, r in spool.oldest(10)] == ["second"]


def test_a_key_is_spooled_once(tmp_path, customer):
    spool = Spool(tmp_path / "spool.sqlite3")
    other = customer.model_copy(update={"tenure": 40})
    first = recording([customer], "first", key="k")
    spool.put(first)
    again = spool.put(recording([customer], "retry", key="k"))
    assert again.replayed
    assert again.recording == first
    with pytest.raises(IdempotencyConflictError):
        spool.put(recording([other], "clash", key="k"))
    assert spool.depth()[0] == 1


def test_a_full_spool_refuses_instead_of_filling_the_disk(tmp_path, customer):
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=64 * 1024)

    def fill() -> None:
        for index in range(1000):
            spool.put(recording([customer] * 10, f"r{index}"))

    with pytest.raises(StorageUnavailableError, match="full"):
        fill()
    assert (tmp_path / "spool.sqlite3").stat().st_size <= 64 * 1024
    kept = spool.depth()[0]
    assert 0 < kept < 10_000  # what was spooled stays, and replays
    spool.remove([seq for seq, _ in spool.oldest(1000)])
    spool.put(recording([customer], "room-again"))


def test_dead_letters_leave_the_queue_and_stay_readable(tmp_path, customer):
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.put(recording([customer], "poison"))
    spool.put(recording([customer], "fine"))
    [(seq, _), _] = spool.oldest(10)
    spool.dead_letter(seq, "ingest answered 422")
    assert [r.request_id for _, r in spool.oldest(10)] == ["fine"]
    [letter] = spool.dead_letters()
    assert (letter["reason"], letter["recording"]["request_id"]) == (
        "ingest answered 422",
        "poison",
    )
    assert spool.dead_letter_count() == 1


def test_erasure_reaches_spooled_requests_and_dead_letters(tmp_path, customer):
    spool = Spool(tmp_path / "spool.sqlite3")
    other = customer.model_copy(update={"customer_id": "KEEP-ME"})
    spool.put(recording([customer, other], "mixed"))
    spool.put(recording([customer], "theirs"))
    spool.put(recording([customer], "dead"))
    spool.dead_letter(spool.oldest(10)[-1][0], "refused")
    assert spool.erase(customer.customer_id) == 3
    [(_, mixed)] = spool.oldest(10)
    assert [p.record.customer_id for p in mixed.predictions] == ["KEEP-ME"]
    assert spool.depth()[0] == 1
    assert spool.dead_letters() == []


def test_a_keyed_request_trimmed_by_erasure_is_no_longer_replayed_by_its_key(tmp_path, customer):
    """Its first answer had two predictions; one is gone, so that answer cannot be given again."""
    spool = Spool(tmp_path / "spool.sqlite3")
    other = customer.model_copy(update={"customer_id": "KEEP-ME"})
    spool.put(recording([customer, other], "mixed", key="k"))
    spool.erase(customer.customer_id)
    [(_, trimmed)] = spool.oldest(10)
    assert trimmed.idempotency is None
    retry = spool.put(recording([customer, other], "retry", key="k"))
    assert not retry.replayed  # a new spooled request, not the trimmed answer
