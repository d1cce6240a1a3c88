"""The stages as HTTP calls to their services: what the gateway plugs into the workflow."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.adapters.stage_client import StageClient
from churnlab.domain.errors import StageUnavailableError
from churnlab.domain.features import FeatureColumns
from churnlab.domain.ingest import AcceptedRequest
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.workflow import DEGRADED, READY

logger = logging.getLogger(__name__)
REPLAY_BATCH = 500


def rows_json(rows: Sequence[tuple[str, str, CustomerRecord]]) -> list[dict[str, Any]]:
    return [
        {"request_id": record_id, "received_at": received_at, "record": record.model_dump()}
        for record_id, received_at, record in rows
    ]


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
    """Ingest over HTTP, with a degraded mode: while the ingest service cannot take records,
    they are committed to a local spool and predictions go on (marked `recorded: false`).

    A background thread replays the spool oldest first; the ingest service is idempotent by
    request id, so a replay that races another gateway worker's records nothing twice.
    """

    def __init__(self, client: StageClient, spool: PredictionLog, replay_every: float) -> None:
        self.client = client
        self.spool = spool
        if replay_every > 0:
            threading.Thread(target=self._keep_replaying, args=(replay_every,), daemon=True).start()

    def record(self, accepted: AcceptedRequest) -> bool:
        rows = accepted.rows()
        try:
            self.client.call("POST", "/v1/ingest", {"rows": rows_json(rows)}, records=len(rows))
        except StageUnavailableError as error:
            self.spool.record(rows)
            logger.warning("ingest unavailable, %d record(s) spooled: %s", len(rows), error.reason)
            return False
        return True

    def replay(self) -> int:
        """Send spooled rows to ingest until the spool is empty or ingest fails; how many sent."""
        sent = 0
        while rows := self.spool.oldest(REPLAY_BATCH):
            try:
                self.client.call("POST", "/v1/ingest", {"rows": rows_json(rows)}, records=len(rows))
            except StageUnavailableError:
                break
            self.spool.remove([record_id for record_id, _, _ in rows])
            sent += len(rows)
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

    def readiness(self) -> str:
        """Ingest being down degrades the gateway but does not make it unready."""
        state = self.client.readiness()
        spooled = self.spool.count()
        if state == READY and spooled == 0:
            return READY
        return f"{DEGRADED}: ingest {state}; {spooled} record(s) spooled"
