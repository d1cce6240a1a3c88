"""The stages as HTTP calls to their services: what the gateway plugs into the workflow.

Their in-process twins, which the monolith plugs in instead, are in `local_stages.py`.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.adapters.stage_client import StageClient
from churnlab.domain.errors import StageUnavailableError, StorageUnavailableError
from churnlab.domain.features import FeatureColumns
from churnlab.domain.ingest import AcceptedRequest, LoggedRecord
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.workflow import DEGRADED, READY

logger = logging.getLogger(__name__)
REPLAY_BATCH = 500


def logged_records_json(entries: Sequence[LoggedRecord]) -> dict[str, Any]:
    """The ingest service's request body (`IngestRequest`)."""
    return {
        "rows": [
            {"request_id": record_id, "received_at": received_at, "record": record.model_dump()}
            for record_id, received_at, record in entries
        ]
    }


class HttpFeatures:
    def __init__(self, client: StageClient) -> None:
        self.client = client

    def prepare(self, records: Sequence[CustomerRecord]) -> FeatureColumns:
        payload = {"records": [record.model_dump() for record in records]}
        return self.client.call("POST", "/v1/features", payload, records=len(records))["features"]

    def readiness(self) -> str:
        return self.client.readiness()


class HttpInference:
    def __init__(self, client: StageClient) -> None:
        self.client = client

    def predict(self, features: FeatureColumns) -> Scores:
        rows = len(next(iter(features.values())))
        answer = self.client.call("POST", "/v1/scores", {"features": features}, records=rows)
        return Scores.from_json(answer)

    def model_card(self) -> dict[str, Any]:
        return self.client.call("GET", "/v1/model")

    def readiness(self) -> str:
        return self.client.readiness()


class SpoolingIngest:
    """Ingest over HTTP, beside features and inference rather than before them, with a degraded
    mode: while the ingest service cannot take records, they are committed to a local spool and
    predictions go on (marked `recorded: false`).

    A background thread replays the spool oldest first; the ingest service is idempotent by
    record id, so a replay that races another gateway worker's records nothing twice. The same
    thread counts what is left, so readiness reads a number instead of querying the spool.
    Without a spool (`spool` None: resilience switched off) an ingest failure fails the
    prediction.
    """

    def __init__(
        self, client: StageClient, spool: PredictionLog | None, replay_every: float, threads: int
    ) -> None:
        self.client = client
        self.spool = spool
        self._calls = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ingest")
        self._spooled = self._count_spool()  # records waiting, or why the spool cannot be read
        if spool is not None and replay_every > 0:
            threading.Thread(target=self._keep_replaying, args=(replay_every,), daemon=True).start()

    def record(self, accepted: AcceptedRequest) -> Future[bool]:
        # The request id travels in a context variable: the call runs in a pool thread.
        return self._calls.submit(contextvars.copy_context().run, self._record_now, accepted)

    def _record_now(self, accepted: AcceptedRequest) -> bool:
        entries = accepted.logged_records()
        try:
            self._send(entries)
        except StageUnavailableError as error:
            if self.spool is None:
                raise
            self.spool.record(entries)
            if isinstance(self._spooled, int):
                self._spooled += len(entries)  # an estimate; the replayer recounts each round
            logger.warning(
                "ingest unavailable, %d record(s) spooled: %s", len(entries), error.reason
            )
            return False
        return True

    def _send(self, entries: Sequence[LoggedRecord]) -> None:
        self.client.call("POST", "/v1/ingest", logged_records_json(entries), records=len(entries))

    def replay(self) -> int:
        """Send spooled records to ingest until the spool is empty or ingest fails; how many."""
        assert self.spool is not None
        sent = 0
        while entries := self.spool.oldest(REPLAY_BATCH):
            try:
                self._send(entries)
            except StageUnavailableError:
                break
            self.spool.remove([entry.record_id for entry in entries])
            sent += len(entries)
        if sent:
            logger.info("replayed %d spooled record(s) to ingest", sent)
        return sent

    def _keep_replaying(self, every_seconds: float) -> None:
        while True:
            time.sleep(every_seconds)
            try:
                self.replay()
            except Exception:  # the replayer must outlive any one bad round
                logger.exception("spool replay failed")
            self._spooled = self._count_spool()

    def _count_spool(self) -> int | str:
        if self.spool is None:
            return 0
        try:
            return self.spool.count()
        except StorageUnavailableError as error:
            return f"spool unavailable: {error.reason}"

    def readiness(self) -> str:
        """Ingest being down degrades the gateway but does not make it unready (with a spool)."""
        state = self.client.readiness()
        spooled = self._spooled
        if self.spool is None or isinstance(spooled, str):
            return state if self.spool is None else spooled
        if state == READY and spooled == 0:
            return READY
        return f"{DEGRADED}: ingest {state}; {spooled} record(s) spooled"
