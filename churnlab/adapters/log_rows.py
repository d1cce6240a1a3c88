"""What both prediction logs (SQLite, PostgreSQL) share: the row of one prediction, how a
request recorded under an idempotency key is read back, and the erasure tombstone.

A request's predictions share its received_at and idempotency key, so reading them back by
both finds exactly that request's, even after an erasure or a retention round removed some
rows (then the stored request is incomplete, and its key counts as expired).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from churnlab.domain.ingest import IdempotencyKey, LoggedPrediction, Recording
from churnlab.domain.schema import CustomerRecord

PREDICTION_COLUMNS = (
    "prediction_id",
    "received_at",
    "request_id",
    "idempotency_key",
    "position",
    "customer_id",
    "record",
    "churn_probability",
    "churn",
    "risk",
    "reasons",
    "model_version",
)
# Predictions per correlation id: what tests and experiments check against what was answered.
REQUEST_COUNTS = "SELECT request_id, count(*) FROM predictions GROUP BY request_id"
# Read back for a replay, in this order.
STORED_COLUMNS = (
    "prediction_id",
    "position",
    "record",
    "churn_probability",
    "churn",
    "risk",
    "reasons",
    "model_version",
)


def prediction_rows(recording: Recording) -> list[tuple]:
    key = recording.idempotency.key if recording.idempotency else None
    return [
        (
            prediction.prediction_id,
            recording.received_at,
            recording.request_id,
            key,
            prediction.position,
            prediction.record.customer_id,
            prediction.record.model_dump_json(),
            prediction.churn_probability,
            prediction.churn,
            prediction.risk,
            orjson.dumps(prediction.reasons).decode(),
            prediction.model_version,
        )
        for prediction in recording.predictions
    ]


def _json(value: Any) -> Any:
    """SQLite hands JSON back as text, PostgreSQL (jsonb) as Python objects."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def stored_recording(
    request_id: str,
    received_at: str,
    key: IdempotencyKey,
    records: int,
    rows: Sequence[Sequence[Any]],
) -> Recording | None:
    """The request as first recorded, from its rows (STORED_COLUMNS); None when incomplete."""
    if len(rows) != records:
        return None
    predictions = tuple(
        LoggedPrediction(
            prediction_id=prediction_id,
            position=position,
            record=CustomerRecord.model_validate(_json(record)),
            churn_probability=churn_probability,
            churn=bool(churn),
            risk=risk,
            reasons=tuple(_json(reasons)),
            model_version=model_version,
        )
        for (
            prediction_id,
            position,
            record,
            churn_probability,
            churn,
            risk,
            reasons,
            model_version,
        ) in sorted(rows, key=lambda row: row[1])
    )
    return Recording(request_id, str(received_at), key, predictions)


def audit_view(row: Sequence[Any]) -> dict[str, Any]:
    """One logged prediction (PREDICTION_COLUMNS) as GET /v1/predictions/{id} shows it."""
    view = dict(zip(PREDICTION_COLUMNS, row, strict=True))
    received_at = view["received_at"]  # SQLite's text, or PostgreSQL's datetime
    return view | {
        "received_at": received_at if isinstance(received_at, str) else received_at.isoformat(),
        "record": _json(view["record"]),
        "reasons": _json(view["reasons"]),
        "churn": bool(view["churn"]),
    }


def tombstone(salt: str, stored_customer_id: str) -> str:
    """What an erasure leaves of a customer id: a hash salted with the log's own random salt,
    enough to refuse their records replayed later (from a spool). It is not the id, but whoever
    can read the log's salt can test guesses against it."""
    return hashlib.sha256(f"{salt}:{stored_customer_id}".encode()).hexdigest()
