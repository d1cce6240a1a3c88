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
    # NORMAL survives process crashes; FULL also survives power loss, at an fsync per commit.
    sqlite_synchronous: str = "NORMAL"
    max_single_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    log_level: str = "INFO"

    # The gateway: where each stage service is (comma-separated; a host name stands for every
    # address it resolves to, so Compose replicas are all used).
    ingest_urls: str = "http://127.0.0.1:8101"
    features_urls: str = "http://127.0.0.1:8102"
    inference_urls: str = "http://127.0.0.1:8111"
    # Per call: connect timeout, and read timeout for one record plus a share per extra record.
    stage_connect_timeout_seconds: float = 0.25
    stage_read_timeout_seconds: float = 1.0
    stage_read_timeout_per_record_seconds: float = 0.0005
    stage_attempts: int = 3
    # Retries, circuit breaker, ejection and spool can each be switched off (attempts 1,
    # breaker failures 0, eject seconds 0, spool false) to show what each one buys.
    breaker_failures: int = 5
    breaker_reset_seconds: float = 3.0
    # How long an address that failed a call or a probe is skipped (0: never skipped).
    eject_seconds: float = 1.0
    # Background health probes of every stage address (0: none), and name re-resolution.
    health_every_seconds: float = 0.5
    health_timeout_seconds: float = 0.5
    resolve_every_seconds: float = 1.0
    # Degraded mode: records that ingest could not take wait here and are replayed.
    spool: bool = True
    spool_path: Path = Path("var/gateway_spool.sqlite3")
    replay_every_seconds: float = 1.0
    # Ingest calls run beside features and inference, on this many threads per process.
    ingest_threads: int = 8

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values = {}
        for field in fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _coerce(field.default, raw)
        return cls(**values)


def _coerce(default: object, raw: str) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    for kind in (Path, int, float):
        if isinstance(default, kind):
            return kind(raw)
    return raw
