"""Settings read once from environment variables, with defaults that work from a clean clone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "CHURNLAB_"


@dataclass(frozen=True)
class Settings:
    """Every field can be set as CHURNLAB_<FIELD NAME>, e.g. CHURNLAB_MODEL_DIR."""

    model_dir: Path = Path("models/current")
    prediction_log_path: Path = Path("var/prediction_log.sqlite3")
    # On a cluster: a PostgreSQL connection string (libpq), which replaces the SQLite file, e.g.
    # "host=db-a,db-b dbname=churnlab user=churnlab target_session_attrs=read-write".
    prediction_log_url: str = ""
    # A write to PostgreSQL, the standby's confirmation included, gets this long (then 503).
    prediction_log_write_timeout_seconds: float = 2.0
    # PostgreSQL without a synchronous standby (pg_auto_failover's wait_primary): refuse writes
    # (503, the default), or accept them with one copy, which each answer then says (copies 1).
    prediction_log_single_copy: bool = False
    # FULL: a commit is on disk before it is answered (a power cut loses nothing acknowledged).
    # NORMAL is faster (make bench shows by how much) but a power cut may lose the last commits.
    sqlite_synchronous: str = "FULL"
    # Retention, enforced every retention_every_seconds: predictions older than this many days
    # are deleted, and the oldest beyond retention_max_rows (0 for either: no limit).
    retention_days: float = 30.0
    retention_max_rows: int = 1_000_000
    retention_every_seconds: float = 60.0
    # Data minimisation: a file holding a secret key; the log then stores a keyed hash of each
    # customer id instead of the id (erasure by customer id still works). Unset: ids as sent.
    customer_id_key_file: Path | None = None
    # Audit reads (GET /v1/predictions/{id}) and erasure (DELETE /v1/customers/{id}/predictions)
    # need "Authorization: Bearer <key>" with the key in this file. Unset: both answer 403.
    audit_key_file: Path | None = None
    max_single_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    # A body larger than the edge buffers (64 KiB, or of unknown length) must arrive within
    # upload_grace_seconds plus its length at upload_min_bytes_per_second (a 16 MiB batch: 69 s),
    # or it gets a 408 and the connection closes: a slow uploader holds a worker no longer
    # than that, and holding one costs it that bandwidth (Apache's mod_reqtimeout MinRate).
    upload_grace_seconds: float = 5.0
    upload_min_bytes_per_second: int = 256 * 1024
    # A public request's whole budget: every stage call and the log's commit fit inside it.
    request_deadline_seconds: float = 5.0
    log_level: str = "INFO"
    # Adaptive batching at the model, in the monolith's workers and the model tier alike: the
    # predictions of one process's concurrent threads (CHURNLAB_THREADS) share a model call of
    # at most batch_max_rows rows, whose first request waits up to batch_max_wait_seconds for
    # company. Off by default, and no wait, as Triton's dynamic batcher and MLServer's are.
    batching: bool = False
    batch_max_rows: int = 64
    batch_max_wait_seconds: float = 0.0

    # The gateway: where each stage service is (comma-separated; a host name stands for every
    # address it resolves to, so Compose replicas are all used).
    ingest_urls: str = "http://127.0.0.1:8101"
    features_urls: str = "http://127.0.0.1:8102"
    inference_urls: str = "http://127.0.0.1:8111"
    # Per call: connect timeout, and read timeout for one record plus a share per extra record.
    # Ingest's is longer than the log's own write timeout, so that ingest answers first.
    stage_connect_timeout_seconds: float = 0.25
    stage_read_timeout_seconds: float = 1.0
    ingest_read_timeout_seconds: float = 2.5
    stage_read_timeout_per_record_seconds: float = 0.0005
    # Attempts per call: only connection failures and 503s are retried, and retries may add at
    # most retry_budget_ratio to a stage's calls (plus retry_budget_min_per_second), so that
    # retries cannot multiply the load on a stage that is failing.
    stage_attempts: int = 3
    retry_budget_ratio: float = 0.1
    retry_budget_min_per_second: float = 3.0
    # Retries, circuit breaker, ejection and spool can each be switched off (attempts 1,
    # breaker failures 0, eject seconds 0, spool false) to show what each one buys.
    breaker_failures: int = 5
    breaker_reset_seconds: float = 3.0
    # An address is skipped for eject_seconds after eject_after_failures failed calls in a row
    # (or a failed probe); 0 seconds: never skipped.
    eject_seconds: float = 1.0
    eject_after_failures: int = 3
    # Background health probes of every stage address (0: none), and name re-resolution.
    health_every_seconds: float = 0.5
    health_timeout_seconds: float = 0.5
    resolve_every_seconds: float = 1.0
    # Degraded mode: requests that ingest could not take wait here and are replayed. The spool
    # is capped (then predictions answer 503); on SIGTERM it is drained for up to
    # spool_drain_seconds.
    spool: bool = True
    spool_path: Path = Path("var/gateway_spool.sqlite3")
    spool_max_mb: int = 256
    spool_drain_seconds: float = 10.0
    replay_every_seconds: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values = {}
        for field in fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _coerce(field.default, raw)
        return cls(**values)


def _coerce(default: object, raw: str) -> object:
    if default is None:  # the optional files
        return Path(raw) if raw else None
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    for kind in (Path, int, float):
        if isinstance(default, kind):
            return kind(raw)
    return raw
