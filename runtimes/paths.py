"""Where the project is, and where local runs keep their logs and sockets."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_dir() -> Path:
    """The parent of each local deployment's logs and supervisord socket (CHURNLAB_RUN_DIR)."""
    return Path(os.environ.get("CHURNLAB_RUN_DIR", ROOT / ".run"))
