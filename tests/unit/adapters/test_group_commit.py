"""Group commit with a fake writer: batching, ordering of results, and errors for everyone."""

import threading
import time

import pytest

from churnlab.adapters.group_commit import GroupCommit, OutcomeUnknownError, QueueTimeoutError


class SlowWriter:
    """Takes `seconds` per write and remembers each batch it was given."""

    def __init__(self, seconds: float = 0.02, fail: bool = False) -> None:
        self.seconds = seconds
        self.fail = fail
        self.batches: list[list[str]] = []

    def __call__(self, items):
        self.batches.append(list(items))
        time.sleep(self.seconds)
        if self.fail:
            raise OSError("disk full")
        return [f"done {item}" for item in items]


def run_together(commits: GroupCommit, items: list[str]) -> dict[str, object]:
    outcomes: dict[str, object] = {}
    start = threading.Barrier(len(items))

    def submit(item: str) -> None:
        start.wait()
        try:
            outcomes[item] = commits.submit(item)
        except OSError as error:
            outcomes[item] = error

    threads = [threading.Thread(target=submit, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_a_lone_caller_writes_at_once_without_a_hand_off():
    writer = SlowWriter(seconds=0)
    commits = GroupCommit(writer)
    assert commits.submit("a") == "done a"
    assert commits.submit("b") == "done b"
    assert writer.batches == [["a"], ["b"]]


def test_callers_arriving_during_a_write_share_the_next_one():
    writer = SlowWriter()
    items = [f"item{n}" for n in range(16)]
    outcomes = run_together(GroupCommit(writer), items)
    assert outcomes == {item: f"done {item}" for item in items}  # each gets its own result
    assert sorted(item for batch in writer.batches for item in batch) == sorted(items)
    assert len(writer.batches) < len(items) / 2, writer.batches


def test_a_failed_write_fails_every_caller_in_its_batch_then_writing_resumes():
    writer = SlowWriter(fail=True)
    commits = GroupCommit(writer)
    outcomes = run_together(commits, [f"item{n}" for n in range(8)])
    assert len(outcomes) == 8
    assert all(isinstance(outcome, OSError) for outcome in outcomes.values())
    writer.fail = False  # the disk has room again: the same log writes on
    assert commits.submit("later") == "done later"


def test_results_must_match_items():
    commits = GroupCommit(lambda items: [])
    with pytest.raises(ValueError, match="zip"):
        commits.submit("x")


def test_a_bad_result_still_hands_over_so_the_queue_never_stalls():
    """The stall the issue found: an error after the write (here, results that do not match
    the items) used to skip the hand-over, and every later caller waited for ever."""
    calls = []

    def write(items):
        calls.append(list(items))
        time.sleep(0.05)
        return [] if len(calls) == 1 else [f"done {item}" for item in items]

    commits = GroupCommit(write)
    outcomes: dict[str, object] = {}

    def submit(item: str) -> None:
        try:
            outcomes[item] = commits.submit(item, timeout=5)
        except (ValueError, OSError) as error:
            outcomes[item] = type(error).__name__

    first = threading.Thread(target=submit, args=("first",))
    first.start()
    time.sleep(0.01)  # the others queue behind the first write
    others = [threading.Thread(target=submit, args=(f"q{n}",)) for n in range(4)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(5)
    assert not any(thread.is_alive() for thread in [first, *others]), "a caller is stuck"
    assert outcomes["first"] == "ValueError"
    assert all(outcomes[f"q{n}"] == f"done q{n}" for n in range(4))


def test_a_caller_queued_past_its_deadline_leaves_with_nothing_written():
    writer = SlowWriter(seconds=0.5)
    commits = GroupCommit(writer, write_seconds=2)
    leader = threading.Thread(target=commits.submit, args=("slow",))
    leader.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(QueueTimeoutError):
        commits.submit("impatient", timeout=0.1)
    assert time.monotonic() - started < 0.4
    leader.join(5)
    assert ["impatient"] not in writer.batches
    assert all("impatient" not in batch for batch in writer.batches)


def test_a_write_that_outlives_every_bound_is_an_unknown_outcome_not_a_hang():
    """Two callers queue behind a write; the first of them leads the next write, which hangs:
    the second, taken into that write, is told the outcome is unknown (it may commit)."""
    release, calls = threading.Event(), []

    def write(items):
        calls.append(list(items))
        time.sleep(0.1) if len(calls) == 1 else release.wait(5)
        return [f"done {item}" for item in items]

    commits = GroupCommit(write, write_seconds=0.2)
    outcomes: dict[str, object] = {}

    def submit(item: str) -> None:
        try:
            outcomes[item] = commits.submit(item, timeout=0.3)
        except (QueueTimeoutError, OutcomeUnknownError) as error:
            outcomes[item] = type(error).__name__

    threads = [threading.Thread(target=submit, args=(item,)) for item in ("a", "b", "c")]
    threads[0].start()
    time.sleep(0.02)
    threads[1].start()
    time.sleep(0.02)
    threads[2].start()
    threads[2].join(2)
    assert calls[1] == ["b", "c"]  # c was taken into b's write
    assert outcomes["c"] == "OutcomeUnknownError"
    release.set()
    for thread in threads[:2]:
        thread.join(5)
    assert outcomes["b"] == "done b"


def test_a_missed_deadline_is_a_503_that_says_what_was_kept():
    from churnlab.adapters.group_commit import submit_within
    from churnlab.domain.errors import StorageUnavailableError

    release = threading.Event()
    commits = GroupCommit(lambda items: (release.wait(5), list(items))[1], write_seconds=0.1)
    leader = threading.Thread(target=commits.submit, args=("stuck",))
    leader.start()
    time.sleep(0.05)
    with pytest.raises(StorageUnavailableError) as refused:
        submit_within(commits, "late", time.monotonic() + 0.1, "prediction log")
    assert refused.value.kept == "nothing"
    release.set()
    leader.join(5)


def queue_reaches(commits: GroupCommit, length: int) -> None:
    deadline = time.monotonic() + 10
    while len(commits._queue) < length:
        assert time.monotonic() < deadline, "the callers never queued"
        time.sleep(0.005)


def test_a_batch_holds_at_most_max_size_by_weight_and_an_oversize_item_goes_alone():
    """Items weigh their rows: behind a write, a queue of 3 + 3 + 9 + 1 rows with batches of
    at most 6 rows is written as 3+3, then 9 alone (larger than any batch), then 1."""
    release = threading.Event()
    batches: list[list[str]] = []

    def write(items):
        batches.append(list(items))
        if len(batches) == 1:
            release.wait(10)
        return list(items)

    commits = GroupCommit(write, max_size=6, size=len)
    threads = [threading.Thread(target=commits.submit, args=("lead",))]
    threads[0].start()
    while not batches:
        time.sleep(0.005)
    for queued, item in enumerate(("aaa", "bbb", "x" * 9, "c"), start=1):
        threads.append(threading.Thread(target=commits.submit, args=(item,)))
        threads[-1].start()
        queue_reaches(commits, queued)  # in this order
    release.set()
    for thread in threads:
        thread.join(10)
    assert batches == [["lead"], ["aaa", "bbb"], ["x" * 9], ["c"]]


def test_a_leader_gathers_for_at_most_gather_seconds_and_no_longer_once_full():
    writer = SlowWriter(seconds=0)
    lonely = GroupCommit(writer, max_size=4, gather_seconds=0.15)
    started = time.monotonic()
    assert lonely.submit("alone") == "done alone"
    waited = time.monotonic() - started
    assert waited >= 0.15  # nobody came: it waited its gather time, then wrote

    writer = SlowWriter(seconds=0)
    full = GroupCommit(writer, max_size=4, gather_seconds=5)
    started = time.monotonic()
    outcomes = run_together(full, ["a", "b", "c", "d"])
    assert time.monotonic() - started < 2.5  # the batch filled: nobody waited the 5 s
    assert outcomes == {item: f"done {item}" for item in "abcd"}
    assert [sorted(batch) for batch in writer.batches] == [["a", "b", "c", "d"]]


def test_the_gather_time_counts_from_the_oldest_item_s_arrival_not_its_promotion():
    """Items that queued behind a long write have waited their gather time already: the next
    leader writes them at once, as Triton's queue delay counts from a request's arrival."""
    writer = SlowWriter(seconds=1.5)
    commits = GroupCommit(writer, gather_seconds=1.0)
    ended: list[float] = []
    first = threading.Thread(
        target=lambda: (commits.submit("first"), ended.append(time.monotonic()))
    )
    first.start()
    while not writer.batches:  # "first" gathers alone for its 1 s, then writes
        time.sleep(0.005)
    second = threading.Thread(
        target=lambda: (commits.submit("second"), ended.append(time.monotonic()))
    )
    second.start()
    for thread in (first, second):
        thread.join(10)
    assert writer.batches == [["first"], ["second"]]
    assert ended[1] - ended[0] < 1.5 + 0.8  # its write, and not another whole gather time


def test_a_leader_stops_gathering_when_the_next_item_cannot_fit():
    writer = SlowWriter(seconds=0)
    commits = GroupCommit(writer, max_size=4, gather_seconds=3, size=len)
    started = time.monotonic()
    lead = threading.Thread(target=commits.submit, args=("a",))
    lead.start()
    time.sleep(0.05)
    commits.submit("x" * 9)
    lead.join(10)
    assert writer.batches == [["a"], ["x" * 9]]
    assert time.monotonic() - started < 2.0  # neither waited out its 3 s
