"""Metrics of record keeping, set by the adapters (no Flask here): the log's and the spool's
size, the replication they wait for, and what retention, erasure and retries did.

Gauges are measured by one process at a time (the one that won a maintenance or replay round),
so across gunicorn workers the most recent live value counts ("livemostrecent").
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, documentation, labels, multiprocess_mode="livemostrecent")


LOG_BYTES = _gauge("churnlab_prediction_log_bytes", "Size of the prediction log on disk.")
VOLUME_FREE_BYTES = _gauge(
    "churnlab_volume_free_bytes", "Free bytes on the volume of a file it keeps.", ("volume",)
)
VOLUME_SIZE_BYTES = _gauge(
    "churnlab_volume_size_bytes", "Size of the volume of a file it keeps.", ("volume",)
)
SYNC_STANDBYS = _gauge(
    "churnlab_prediction_log_sync_standbys",
    "PostgreSQL standbys that confirm commits before they are answered.",
)
REPLICATION_LAG_SECONDS = _gauge(
    "churnlab_prediction_log_replication_lag_seconds", "Replay lag of the slowest standby."
)
SPOOL_RECORDS = _gauge("churnlab_spool_records", "Records spooled, waiting for ingest.")
SPOOL_OLDEST_AGE_SECONDS = _gauge(
    "churnlab_spool_oldest_age_seconds", "Age of the oldest spooled record (0: none)."
)
SPOOL_DEAD_LETTERS = _gauge(
    "churnlab_spool_dead_letters", "Spooled requests ingest refused: kept for a person to read."
)
DELETED = Counter(
    "churnlab_prediction_log_deleted_total",
    "Predictions deleted from the log, by reason (age, rows: retention; erasure).",
    ["reason"],
)
IDEMPOTENT_REPLAYS = Counter(
    "churnlab_idempotent_replays_total", "Requests answered again under their Idempotency-Key."
)
STAGE_RETRIES = Counter(
    "churnlab_stage_retries_total",
    "Retries of stage calls, by stage and whether the retry budget allowed them.",
    ["stage", "allowed"],
)
