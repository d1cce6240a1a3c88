"""`python -m services.mlserver`, in MLServer's venv: MLServer listening where the inference
service would (CHURNLAB_BIND), serving CHURNLAB_MODEL_DIR through runtime.py, with as many
inference processes as WEB_CONCURRENCY says (MLServer's parallel workers), batching with its
own adaptive batching when CHURNLAB_BATCHING says so. Its gRPC and metrics ports are free
loopback ones: nothing of ChurnLab calls them."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from churnlab.adapters.inference_protocol import MODEL_NAME
from churnlab.config import Settings
from runtimes.ports import free_port


def model_settings(settings: Settings) -> dict[str, Any]:
    """MLServer's model-settings.json: batches of at most batch_max_rows requests (MLServer
    counts requests), gathered for at most batch_max_wait_seconds; 0 for both, none."""
    batching = settings.batching
    return {
        "name": MODEL_NAME,
        "implementation": "services.mlserver.runtime.ChurnModelTier",
        "parameters": {"uri": str(settings.model_dir.resolve())},
        "max_batch_size": settings.batch_max_rows if batching else 0,
        "max_batch_time": settings.batch_max_wait_seconds if batching else 0,
    }


def main() -> None:
    settings = Settings.from_env()
    host, port = os.environ.get("CHURNLAB_BIND", "127.0.0.1:8111").rsplit(":", 1)
    repository = Path(
        tempfile.mkdtemp(prefix=f"mlserver-{port}-", dir=os.environ.get("CHURNLAB_RUN_DIR"))
    )
    (repository / MODEL_NAME).mkdir()
    (repository / MODEL_NAME / "model-settings.json").write_text(
        json.dumps(model_settings(settings))
    )
    server = {
        "MLSERVER_HOST": host,
        "MLSERVER_HTTP_PORT": port,
        "MLSERVER_GRPC_PORT": str(free_port()),
        "MLSERVER_METRICS_PORT": str(free_port()),
        "MLSERVER_PARALLEL_WORKERS": os.environ.get("WEB_CONCURRENCY", "1"),
    }
    mlserver = str(Path(sys.executable).parent / "mlserver")
    os.execve(mlserver, [mlserver, "start", str(repository)], os.environ | server)


if __name__ == "__main__":
    main()
