"""Ingest: give each validated record its id and record it durably before scoring.

Validation itself is the `CustomerRecord` schema, applied where JSON enters the system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from churnlab.domain.schema import CustomerRecord

# (record id, received at, customer id, record as JSON): one row of either prediction log.
LogRow = tuple[str, str, str, str]


class LoggedRecord(NamedTuple):
    """One accepted record as the prediction log keeps it; `record_id` is its primary key."""

    record_id: str
    received_at: str
    record: CustomerRecord

    def as_row(self) -> LogRow:
        return (
            self.record_id,
            self.received_at,
            self.record.customer_id,
            self.record.model_dump_json(),
        )


def record_ids(request_id: str, count: int) -> list[str]:
    """A single prediction keeps the request id; batch records get `<request id>:<index>`."""
    if count == 1:
        return [request_id]
    return [f"{request_id}:{index}" for index in range(count)]


@dataclass(frozen=True)
class AcceptedRequest:
    """Records the system has taken responsibility for: each must end up logged exactly once."""

    request_id: str
    received_at: str
    records: tuple[CustomerRecord, ...]

    @property
    def record_ids(self) -> list[str]:
        return record_ids(self.request_id, len(self.records))

    def logged_records(self) -> list[LoggedRecord]:
        return [
            LoggedRecord(record_id, self.received_at, record)
            for record_id, record in zip(self.record_ids, self.records, strict=True)
        ]


class RecordStore(Protocol):
    def record(self, entries: Sequence[LoggedRecord]) -> int: ...


def accept(records: Sequence[CustomerRecord], request_id: str) -> AcceptedRequest:
    return AcceptedRequest(
        request_id=request_id,
        received_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        records=tuple(records),
    )


def ingest(store: RecordStore, accepted: AcceptedRequest) -> int:
    """Record every accepted record; idempotent by record id, so retries are safe."""
    return store.record(accepted.logged_records())
