"""Adaptive batching at the model: the predictions of one process's concurrent threads share
one model call, as Triton's dynamic batcher and MLServer's adaptive batching join requests.

It is the logs' group commit (group_commit.py) with a model call for the write: a lone request
is scored at once, unless `max_wait_seconds` lets it wait for company; requests that arrive
while the model is busy are scored together next, up to `max_rows` rows a call. The monolith's
workers and the model tier's use the same code (bootstrap.inference_stage), so that either
wiring can batch and the lab compares like with like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Histogram

from churnlab.adapters.group_commit import GroupCommit, OutcomeUnknownError, QueueTimeoutError
from churnlab.domain.errors import ModelIntegrityError, ModelNotReadyError
from churnlab.domain.features import FeatureColumns, joined, row_count
from churnlab.domain.scores import Scores
from churnlab.request_context import deadline_or

SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 10_000)
BATCH_REQUESTS = Histogram(
    "churnlab_inference_batch_requests",
    "Requests whose rows one model call scored together (adaptive batching), per call.",
    buckets=SIZES,
)
BATCH_ROWS = Histogram(
    "churnlab_inference_batch_rows", "Rows one batched model call scored.", buckets=SIZES
)


@dataclass(frozen=True)
class BatchPolicy:
    max_rows: int
    max_wait_seconds: float


class Batcher:
    """`predict(features)` for many threads, through calls of `score` on joined batches."""

    def __init__(
        self,
        score: Callable[[FeatureColumns], Scores],
        policy: BatchPolicy,
        call_seconds: float = 15.0,
    ) -> None:
        self._score = score
        self._call_seconds = call_seconds
        self._batches: GroupCommit[FeatureColumns, Scores | Exception] = GroupCommit(
            self._score_all,
            write_seconds=call_seconds,
            max_size=policy.max_rows,
            gather_seconds=policy.max_wait_seconds,
            size=row_count,
        )

    def predict(self, features: FeatureColumns) -> Scores:
        """Within the request's deadline: a 503 if the model is too busy to reach it in time."""
        timeout = max(deadline_or(self._call_seconds) - time.monotonic(), 0.0)
        try:
            scores = self._batches.submit(features, timeout=timeout)
        except (QueueTimeoutError, OutcomeUnknownError) as error:
            raise ModelNotReadyError(f"the model is busy: {error}") from error
        if isinstance(scores, Exception):
            raise scores
        return scores

    def _score_all(self, parts: Sequence[FeatureColumns]) -> list[Scores | Exception]:
        rows = [row_count(part) for part in parts]
        if len(parts) == 1:
            return [self._call(parts[0], 1, rows[0])]
        try:
            return list(self._call(joined(parts), len(parts), sum(rows)).split(rows))
        except (ModelNotReadyError, ModelIntegrityError):  # the model's state, not the rows'
            raise
        except Exception:  # one request's rows must not fail the others': each alone
            return [self._alone(part, count) for part, count in zip(parts, rows, strict=True)]

    def _call(self, features: FeatureColumns, requests: int, rows: int) -> Scores:
        """One model call, counted once it has scored."""
        scores = self._score(features)
        BATCH_REQUESTS.observe(requests)
        BATCH_ROWS.observe(rows)
        return scores

    def _alone(self, features: FeatureColumns, rows: int) -> Scores | Exception:
        try:
            return self._call(features, 1, rows)
        except Exception as error:
            return error
