"""Ingest: accept validated records under ids of the server's own, and the shape in which an
answered request is recorded: every record with what it was answered, whole or not at all.

Ids are generated here (UUIDv7: unique, and time-ordered so the log's indexes append). A
client's X-Request-ID is only a correlation id and its Idempotency-Key only names a request, so
no shape of either can collide with a record. Validation itself is the `CustomerRecord` schema,
applied where JSON enters the system.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from uuid6 import uuid7

from churnlab.domain.schema import CustomerRecord


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's name for one request (the Idempotency-Key header), and a fingerprint of what
    it asked: the same key may only ever stand for the same request."""

    key: str
    fingerprint: str


def fingerprint(route: str, records: Sequence[CustomerRecord]) -> str:
    """SHA-256 of the route and the validated records: the same request in other whitespace or
    key order has the same fingerprint; another route or any other field value does not."""
    digest = hashlib.sha256(route.encode())
    for record in records:
        digest.update(b"\n" + record.model_dump_json().encode())
    return digest.hexdigest()


def new_id() -> str:
    return uuid7().hex


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AcceptedRequest:
    """Records the system has taken responsibility for, each with its prediction id."""

    request_id: str  # the correlation id
    received_at: str
    records: tuple[CustomerRecord, ...]
    prediction_ids: tuple[str, ...]
    idempotency: IdempotencyKey | None = None


def accept(
    records: Sequence[CustomerRecord], request_id: str, idempotency: IdempotencyKey | None = None
) -> AcceptedRequest:
    return AcceptedRequest(
        request_id=request_id,
        received_at=now_iso(),
        records=tuple(records),
        prediction_ids=tuple(new_id() for _ in records),
        idempotency=idempotency,
    )


class LoggedPrediction(NamedTuple):
    """One answered record as the log keeps it: the record, what it was answered, and why."""

    prediction_id: str
    position: int  # in its request
    record: CustomerRecord  # its customer id as stored (a keyed hash under data minimisation)
    churn_probability: float
    churn: bool
    risk: str
    reasons: tuple[dict[str, Any], ...]
    model_version: str

    def to_json(self) -> dict[str, Any]:
        return self._asdict() | {"record": self.record.model_dump(), "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LoggedPrediction:
        return cls(
            **body | {"record": CustomerRecord(**body["record"]), "reasons": tuple(body["reasons"])}
        )


@dataclass(frozen=True)
class Recording:
    """One answered request: recorded whole or not at all, and under its idempotency key.
    `spooled`: replayed from a gateway's spool, so received maybe long before it is logged (a
    customer erased since is not logged again)."""

    request_id: str
    received_at: str
    idempotency: IdempotencyKey | None
    predictions: tuple[LoggedPrediction, ...] = field(default=())
    spooled: bool = False

    def with_predictions(self, predictions: Sequence[LoggedPrediction]) -> Recording:
        return dataclasses.replace(self, predictions=tuple(predictions))

    def to_json(self) -> dict[str, Any]:
        key = self.idempotency
        return {
            "request_id": self.request_id,
            "received_at": self.received_at,
            "idempotency_key": key.key if key else None,
            "fingerprint": key.fingerprint if key else None,
            "predictions": [prediction.to_json() for prediction in self.predictions],
            "spooled": self.spooled,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Recording:
        key = body.get("idempotency_key")
        return cls(
            request_id=body["request_id"],
            received_at=body["received_at"],
            idempotency=IdempotencyKey(key, body["fingerprint"]) if key else None,
            predictions=tuple(LoggedPrediction.from_json(p) for p in body["predictions"]),
            spooled=body.get("spooled", False),
        )


class Outcome(NamedTuple):
    """What recording a request came to. `recording` is what the answer is built from: this
    request's own, or, when its key was answered before (`replayed`), the first answer's."""

    recording: Recording
    replayed: bool
    copies: int  # durable copies confirmed before the answer (SQLite: 1; PostgreSQL: 2)
    logged: bool = True  # False: held in the gateway's spool, to be logged when ingest is back


def single_outcome(results: Sequence[Outcome | Exception]) -> Outcome:
    """The outcome of a store's one recording, or its conflict raised."""
    [result] = results
    if isinstance(result, Exception):
        raise result
    return result
