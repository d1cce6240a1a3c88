"""The stages as in-process calls: what the monolith runs, and what each stage service wraps.

Their HTTP twins, which the gateway plugs in instead, are in `http_stages.py`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from churnlab.domain.errors import ModelNotReadyError
from churnlab.domain.features import FeatureColumns, prepare_features, records_to_columns
from churnlab.domain.ingest import AcceptedRequest, RecordStore, ingest
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.workflow import READY

logger = logging.getLogger(__name__)


class PredictionStore(RecordStore, Protocol):
    """The prediction log as ingest needs it: SQLite (`prediction_log.py`) on one machine,
    PostgreSQL (`postgres_log.py`) on a cluster."""

    def check(self) -> str | None: ...


class LoggedIngest:
    """Ingest straight into the prediction log."""

    def __init__(self, prediction_log: PredictionStore) -> None:
        self.prediction_log = prediction_log

    def record(self, accepted: AcceptedRequest) -> Future[bool]:
        """Records now, before anything is scored: the future is already done."""
        ingest(self.prediction_log, accepted)
        recorded: Future[bool] = Future()
        recorded.set_result(True)
        return recorded

    def readiness(self) -> str:
        """Ready only while a write goes through: a full or read-only volume takes the process
        out of rotation (the edge stops sending it predictions) until it can record again."""
        problem = self.prediction_log.check()
        return READY if problem is None else f"prediction log unavailable: {problem}"


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
    503 at once.
    """

    def __init__(self, model_dir: Path, load_wait_seconds: float = 10.0) -> None:
        self.model_dir = model_dir
        self.load_wait_seconds = load_wait_seconds
        self._model: Any = None
        self._state = "loading"
        self._loaded = threading.Event()

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
        return self._require().predict(features)

    def model_card(self) -> dict[str, Any]:
        card = self._require().card
        return {key: value for key, value in card.items() if key != "reference"}

    def readiness(self) -> str:
        return self._state
