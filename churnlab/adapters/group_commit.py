"""Group commit: the writes of concurrent threads share one transaction.

The first caller becomes the leader and writes at once, so a lone request waits for nobody.
Callers that arrive while a write is under way queue up; when it ends, the leader hands the
whole queue to the first of them, which writes it in one transaction. Each caller returns only
once a write holding its item has succeeded, or raises that write's error: nothing is
acknowledged that was not written.

Nothing waits without a bound. The hand-over happens whatever the write did (it is in a
`finally`), a caller still queued at its deadline leaves the queue and is told nothing was
written, and one whose item is being written waits at most `write_seconds` more (the write
bounds itself: a lock deadline, a statement timeout) before it is told the outcome is unknown.

The same mechanism is the model tier's adaptive batching (Triton's dynamic batcher, MLServer's
adaptive batching): a batch holds at most `max_size` (items weighed by `size`, e.g. rows), and
a leader whose batch is not full may wait up to `gather_seconds` for more before it writes.
The logs use neither: a write alone is never delayed, and it takes everyone queued.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from churnlab.domain.errors import StorageUnavailableError

Item = TypeVar("Item")
Result = TypeVar("Result")


class QueueTimeoutError(Exception):
    """The deadline passed while this item was still queued: it was not written."""


class OutcomeUnknownError(Exception):
    """The deadline passed while this item's write was under way: it may have been written."""


class _Waiter(Generic[Item, Result]):
    __slots__ = ("batch", "done", "error", "item", "queued_at", "result", "weight")

    def __init__(self, item: Item, weight: int) -> None:
        self.item = item
        self.weight = weight
        self.queued_at = time.monotonic()
        self.done = threading.Event()
        self.batch: list[_Waiter[Item, Result]] | None = None  # set when it is to lead
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Serialises calls of `write(items) -> one result per item` and batches whoever waits."""

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Sequence[Result]],
        write_seconds: float = 10.0,
        max_size: float = math.inf,
        gather_seconds: float = 0.0,
        size: Callable[[Item], int] = lambda item: 1,
    ) -> None:
        self._write = write
        self._write_seconds = write_seconds
        self._max_size = max_size
        self._gather_seconds = gather_seconds
        self._size = size
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # for a leader gathering its batch
        self._queue: list[_Waiter[Item, Result]] = []
        self._writing = False

    def submit(self, item: Item, timeout: float = 10.0) -> Result:
        waiter: _Waiter[Item, Result] = _Waiter(item, self._size(item))
        with self._lock:
            if self._writing:
                self._queue.append(waiter)
                self._arrived.notify()
            else:
                self._writing = True
                waiter.batch = [waiter]
        if waiter.batch is None:
            self._wait(waiter, time.monotonic() + timeout)
        if waiter.batch is not None:  # leading: from the start, or promoted while waiting
            try:
                self._write_batch(waiter.batch)
            finally:
                self._hand_over()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _wait(self, waiter: _Waiter[Item, Result], deadline: float) -> None:
        """Until written by another leader or promoted to lead, within the deadline."""
        if waiter.done.wait(max(deadline - time.monotonic(), 0)):
            return
        with self._lock:
            if waiter in self._queue:
                self._queue.remove(waiter)
                raise QueueTimeoutError("still queued behind other writes at the deadline")
        # Taken into a write (or promoted) just now: that write is bounded by its own deadline.
        if not waiter.done.wait(self._write_seconds):
            raise OutcomeUnknownError("the write holding this item did not end in time")

    def _gathered(self, batch: list[_Waiter[Item, Result]]) -> None:
        """Adds to `batch` whoever queues while it is not full, until `gather_seconds` after its
        oldest item was queued (Triton's queue delay), or until the queue's head cannot fit."""
        until = batch[0].queued_at + self._gather_seconds
        with self._arrived:
            while True:
                batch += self._take(self._max_size - self._weight(batch))
                left = until - time.monotonic()
                if self._weight(batch) >= self._max_size or left <= 0 or self._queue:
                    return  # full, out of time, or the next one does not fit
                self._arrived.wait(left)

    @staticmethod
    def _weight(batch: list[_Waiter[Item, Result]]) -> int:
        return sum(waiter.weight for waiter in batch)

    def _take(self, room: float, first: bool = False) -> list[_Waiter[Item, Result]]:
        """Queued waiters from the head while they fit in `room`, and the first one even if it
        does not when `first` (an item larger than a batch goes alone). Under the lock."""
        taken = weight = 0
        for waiter in self._queue:
            weight += waiter.weight
            if weight > room and not (first and taken == 0):
                break
            taken += 1
        batch, self._queue = self._queue[:taken], self._queue[taken:]
        return batch

    def _write_batch(self, batch: list[_Waiter[Item, Result]]) -> None:
        """Gathers (if it may), writes, and tells every waiter of the batch, whatever happens."""
        try:
            if self._gather_seconds > 0:
                self._gathered(batch)
            results = self._write([waiter.item for waiter in batch])
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        except BaseException as error:  # every waiter of the batch must hear of it
            for waiter in batch:
                waiter.error = error
        finally:
            for waiter in batch[1:]:
                waiter.done.set()

    def _hand_over(self) -> None:
        with self._lock:
            batch = self._take(self._max_size, first=True)
            if not batch:
                self._writing = False
                return
            batch[0].batch = batch
        batch[0].done.set()


def submit_within(
    commits: GroupCommit[Item, Result], item: Item, deadline: float, store: str
) -> Result:
    """`commits.submit(item)` by `deadline` (monotonic); a deadline missed is a 503 that says
    whether anything may have been kept."""
    try:
        return commits.submit(item, timeout=max(deadline - time.monotonic(), 0.0))
    except QueueTimeoutError as error:
        raise StorageUnavailableError(store, str(error)) from error
    except OutcomeUnknownError as error:
        raise StorageUnavailableError(store, str(error), kept="unknown") from error
