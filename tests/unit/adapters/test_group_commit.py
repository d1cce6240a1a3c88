"""Group commit with a fake writer: batching, ordering of results, and errors for everyone."""

import threading
import time

import pytest

from churnlab.adapters.group_commit import GroupCommit


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
