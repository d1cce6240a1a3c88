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

from churnlab.adapters.inference_protocol import MODEL_NAME
from churnlab.config import Settings
from runtimes.ports import free_port
from services.mlserver import model_settings


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
