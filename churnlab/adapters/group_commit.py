"""Group commit: the writes of concurrent threads share one transaction.

The first caller becomes the leader and writes at once, so a lone request waits for nobody.
Callers that arrive while a write is under way queue up; when it ends, the leader hands the
whole queue to the first of them, which writes it in one transaction. Each caller returns only
once a write holding its item has succeeded, or raises that write's error: nothing is
acknowledged that was not written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    __slots__ = ("batch", "done", "error", "item", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.batch: list[_Waiter[Item, Result]] | None = None  # set when it is to lead
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Serialises calls of `write(items) -> one result per item` and batches whoever waits."""

    def __init__(self, write: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item, Result]] = []
        self._writing = False

    def submit(self, item: Item) -> Result:
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            if self._writing:
                self._queue.append(waiter)
            else:
                self._writing = True
                waiter.batch = [waiter]
        if waiter.batch is None:
            waiter.done.wait()  # set when written by another leader, or when promoted to lead
        if waiter.batch is not None:
            self._write_batch(waiter.batch)
            self._hand_over()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _write_batch(self, batch: list[_Waiter[Item, Result]]) -> None:
        try:
            results = self._write([waiter.item for waiter in batch])
        except BaseException as error:  # every waiter of the batch must hear of it
            for waiter in batch:
                waiter.error = error
        else:
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        for waiter in batch[1:]:
            waiter.done.set()

    def _hand_over(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
            if not batch:
                self._writing = False
                return
            batch[0].batch = batch
        batch[0].done.set()
