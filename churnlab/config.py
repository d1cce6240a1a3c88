"""Settings read once from environment variables, with defaults that work from a clean clone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "CHURNLAB_"


@dataclass(frozen=True)
class Settings:
    model_dir: Path = Path("models/current")
    prediction_log_path: Path = Path("var/prediction_log.sqlite3")
    # NORMAL survives process crashes; FULL also survives power loss, at an fsync per commit.
    sqlite_synchronous: str = "NORMAL"
    max_single_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Every field can be set as CHURNLAB_<FIELD NAME>; unknown variables are ignored."""
        values = {}
        for name, field in cls.__dataclass_fields__.items():
            raw = environ.get(PREFIX + name.upper())
            if raw is not None:
                values[name] = _coerce(field.default, raw)
        return cls(**values)


def _coerce(default: object, raw: str) -> object:
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, int):
        return int(raw)
    return raw
