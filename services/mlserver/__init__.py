"""MLServer (Seldon's, the server KServe runs) as ChurnLab's model tier, in place of the
inference service: `MODEL_SERVER=mlserver` (runtimes/local.py). It runs in a venv of its own
(runtimes/venvs.py), as the bench's MLServer peer does, with the same requirements.

With CHURNLAB_BATCHING on, MLServer's own adaptive batching joins requests before the runtime
sees them. It differs from ChurnLab's (churnlab/adapters/batching.py) in three ways: it only
batches within a wait (max_batch_time above 0), it counts requests rather than rows, and an
error in a merged request fails every request merged with it (so do merged requests of more
than 10,000 rows in all, the protocol module's limit for one call).
"""

from __future__ import annotations

from typing import Any

from churnlab.adapters.inference_protocol import MODEL_NAME
from churnlab.config import Settings

# uvloop 0.22 raises where MLServer 1.7 asks a worker process for its event loop.
REQUIREMENTS = (
    "mlserver>=1.7,<2",
    "uvloop<0.22",
    "onnxruntime>=1.17,<2",
    "uuid6>=2024.7.10,<2026",
)


def model_settings(settings: Settings) -> dict[str, Any]:
    """MLServer's model-settings.json: batches of at most batch_max_rows requests, gathered for
    at most batch_max_wait_seconds; ValueError for batching without a wait, which MLServer
    would silently not do."""
    if settings.batching and settings.batch_max_wait_seconds <= 0:
        raise ValueError(
            "MLServer batches only within a wait: set CHURNLAB_BATCH_MAX_WAIT_SECONDS above 0"
        )
    return {
        "name": MODEL_NAME,
        "implementation": "services.mlserver.runtime.ChurnModelTier",
        "parameters": {"uri": str(settings.model_dir.resolve())},
        "max_batch_size": settings.batch_max_rows if settings.batching else 0,
        "max_batch_time": settings.batch_max_wait_seconds if settings.batching else 0,
    }
