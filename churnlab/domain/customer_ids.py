"""How the prediction log stores a customer id: as given, or, with data minimisation on, as a
keyed hash (HMAC-SHA256 under a key of the operator's). The log can then still find and erase
one customer's predictions when given their id, but never shows who they are."""

from __future__ import annotations

import hashlib
import hmac

from churnlab.domain.ingest import Recording


class CustomerIds:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key

    @property
    def minimised(self) -> bool:
        return self._key is not None

    def stored(self, customer_id: str) -> str:
        if self._key is None:
            return customer_id
        return hmac.new(self._key, customer_id.encode(), hashlib.sha256).hexdigest()

    def minimise(self, recording: Recording) -> Recording:
        """The recording as the log keeps it: each record's customer id in its stored form."""
        if self._key is None:
            return recording
        return recording.with_predictions(
            prediction._replace(
                record=prediction.record.model_copy(
                    update={"customer_id": self.stored(prediction.record.customer_id)}
                )
            )
            for prediction in recording.predictions
        )
