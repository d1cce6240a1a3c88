"""The stages as in-process calls: what the monolith runs, and what each stage service wraps.

Their HTTP twins, which the gateway plugs in instead, are in `http_stages.py`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from churnlab.adapters.batching import Batcher, BatchPolicy
from churnlab.domain.customer_ids import CustomerIds
from churnlab.domain.errors import ModelNotReadyError
from churnlab.domain.features import FeatureColumns, prepare_features, records_to_columns
from churnlab.domain.ingest import Outcome, Recording, single_outcome
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.metrics import (
    DELETED,
    IDEMPOTENT_REPLAYS,
    LOG_BYTES,
    REPLICATION_LAG_SECONDS,
    SYNC_STANDBYS,
    VOLUME_FREE_BYTES,
    VOLUME_SIZE_BYTES,
)
from churnlab.request_context import deadline_or
from churnlab.tracing import span
from churnlab.workflow import DEGRADED, READY

logger = logging.getLogger(__name__)


class PredictionStore(Protocol):
    """The prediction log as ingest needs it: SQLite (`prediction_log.py`) on one machine,
    PostgreSQL (`postgres_log.py`) on a cluster."""

    name: str

    def record_all(self, recordings: Sequence[Recording], deadline: float | None = None) -> list:
        """One Outcome, or IdempotencyConflictError, per recording, in one transaction."""
        ...

    def get(self, prediction_id: str) -> dict[str, Any] | None: ...

    def erase(self, stored_customer_id: str) -> int: ...

    def enforce_retention(self, max_age_seconds: float, max_rows: int) -> dict[str, int]: ...

    def stats(self) -> dict[str, float]: ...

    def check(self) -> str | None: ...


class LoggedIngest:
    """Ingest straight into the prediction log, customer ids in their stored form."""

    def __init__(
        self,
        prediction_log: PredictionStore,
        customer_ids: CustomerIds | None = None,
        write_timeout_seconds: float = 5.0,
    ) -> None:
        self.prediction_log = prediction_log
        self.customer_ids = customer_ids or CustomerIds()
        self._write_timeout_seconds = write_timeout_seconds

    def record(self, recording: Recording) -> Outcome:
        return single_outcome(self.record_all([recording]))

    def record_all(self, recordings: Sequence[Recording]) -> list[Outcome | Exception]:
        """Committed within the request's deadline (the caller's, passed down to a service)."""
        with span("log commit", recordings=len(recordings)):
            results = self.prediction_log.record_all(
                [self.customer_ids.minimise(recording) for recording in recordings],
                deadline_or(self._write_timeout_seconds),
            )
        IDEMPOTENT_REPLAYS.inc(sum(isinstance(r, Outcome) and r.replayed for r in results))
        return results

    def prediction(self, prediction_id: str) -> dict[str, Any] | None:
        return self.prediction_log.get(prediction_id)

    def erase(self, customer_id: str) -> int:
        erased = self.prediction_log.erase(self.customer_ids.stored(customer_id))
        DELETED.labels("erasure").inc(erased)
        logger.info("erased %d prediction(s) of one customer", erased)
        return erased

    def maintain(self, max_age_seconds: float, max_rows: int) -> None:
        """One retention round, then the log's gauges: for a periodic job."""
        for reason, deleted in self.prediction_log.enforce_retention(
            max_age_seconds, max_rows
        ).items():
            DELETED.labels(reason).inc(deleted)
        stats = self.prediction_log.stats()
        LOG_BYTES.set(stats["bytes"])
        if "sync_standbys" in stats:
            SYNC_STANDBYS.set(stats["sync_standbys"])
            REPLICATION_LAG_SECONDS.set(stats["replication_lag_seconds"])
        if "volume_free_bytes" in stats:
            VOLUME_FREE_BYTES.labels("prediction-log").set(stats["volume_free_bytes"])
            VOLUME_SIZE_BYTES.labels("prediction-log").set(stats["volume_size_bytes"])

    def readiness(self) -> str:
        """Ready only while a write goes through: a full or read-only volume takes the process
        out of rotation (the edge stops sending it predictions) until it can record again. A
        primary without a standby is degraded: it serves, and its predictions answer 503."""
        problem = self.prediction_log.check()
        if problem is None or problem.startswith(DEGRADED):
            return problem or READY
        return f"prediction log unavailable: {problem}"


class LocalFeatures:
    def prepare(self, records: Sequence[CustomerRecord]) -> FeatureColumns:
        return prepare_features(records_to_columns(records))

    def readiness(self) -> str:
        return READY


class BackgroundModel:
    """Loads, verifies and warms the model off the request path.

    Until the warm-up prediction has matched the card, readiness says why: a process that can
    answer /livez is not yet one that can score. A prediction that arrives while the model loads
    waits for it (up to `load_wait_seconds`) rather than failing; one after a failed load gets a
    503 at once. With a batch policy, concurrent predictions share model calls (batching.py).
    """

    def __init__(
        self, model_dir: Path, load_wait_seconds: float = 10.0, batching: BatchPolicy | None = None
    ) -> None:
        self.model_dir = model_dir
        self.load_wait_seconds = load_wait_seconds
        self._model: Any = None
        self._state = "loading"
        self._loaded = threading.Event()
        self._batcher = (
            Batcher(self._score, batching, call_seconds=load_wait_seconds + 5) if batching else None
        )

    def start(self) -> BackgroundModel:
        threading.Thread(target=self._load, name="model-loader", daemon=True).start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        return self._loaded.wait(timeout)

    def _load(self) -> None:
        # Imported here so that importing this module does not pull in onnxruntime.
        from churnlab.domain.inference import ChurnModel

        try:
            model = ChurnModel.load(self.model_dir)
            model.warm_up()
        except Exception as error:  # any failure must surface in /readyz, not kill the worker
            logger.exception("model failed to load from %s", self.model_dir)
            self._state = f"model failed to load: {error}"
        else:
            self._model = model
            self._state = READY
            logger.info("model %s loaded and warmed up", model.version)
        finally:
            self._loaded.set()

    def _require(self) -> Any:
        if self._model is None:
            self._loaded.wait(self.load_wait_seconds)
        if self._model is None:
            raise ModelNotReadyError(self._state)
        return self._model

    def predict(self, features: FeatureColumns) -> Scores:
        if self._batcher is not None:
            return self._batcher.predict(features)
        return self._score(features)

    def _score(self, features: FeatureColumns) -> Scores:
        return self._require().predict(features)

    def check_categories(self, features: FeatureColumns) -> None:
        self._require().check_categories(features)

    def model_card(self) -> dict[str, Any]:
        card = self._require().card
        return {key: value for key, value in card.items() if key != "reference"}

    def readiness(self) -> str:
        return self._state
