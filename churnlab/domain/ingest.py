"""Ingest: give each validated record its request id and record it durably before scoring.

Validation itself is the `CustomerRecord` schema, applied where JSON enters the system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from churnlab.domain.schema import CustomerRecord


@dataclass(frozen=True)
class AcceptedRequest:
    """Records the system has taken responsibility for: each must end up logged exactly once."""

    request_id: str
    received_at: str
    records: tuple[CustomerRecord, ...]

    def rows(self) -> list[tuple[str, str, CustomerRecord]]:
        """(record id, received at, record): what the prediction log stores for each record."""
        return [
            (record_id, self.received_at, record)
            for record_id, record in zip(self.record_ids, self.records, strict=True)
        ]

    @property
    def record_ids(self) -> list[str]:
        """A single prediction keeps the request id; batch records get `<request id>:<index>`."""
        if len(self.records) == 1:
            return [self.request_id]
        return [f"{self.request_id}:{index}" for index in range(len(self.records))]


class RecordStore(Protocol):
    def record(self, rows: Sequence[tuple[str, str, CustomerRecord]]) -> int: ...


def accept(records: Sequence[CustomerRecord], request_id: str) -> AcceptedRequest:
    return AcceptedRequest(
        request_id=request_id,
        received_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        records=tuple(records),
    )


def ingest(store: RecordStore, accepted: AcceptedRequest) -> int:
    """Record every accepted record; idempotent by record id, so retries are safe."""
    return store.record(accepted.rows())
