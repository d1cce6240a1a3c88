"""MLServer (Seldon's, the server KServe runs), with a custom runtime (mlserver_runtime.py) over
ChurnLab's ONNX model, spoken to in the Open Inference Protocol's REST form; its inference in
separate worker processes (`parallel_workers`)."""

from __future__ import annotations

import json
from pathlib import Path

from lab.bench.peers.serving import WORKERS, Peer
from runtimes.paths import ROOT
from runtimes.ports import free_port
from services.mlserver import REQUIREMENTS

SETTINGS_DIR = ROOT / "build" / "mlserver-settings"
MODEL_NAME = "churn"


def oip_request(record: dict) -> dict:
    """One record as an inference request: a column an input, as the pandas codec reads it."""
    inputs = []
    for name, value in record.items():
        if isinstance(value, str):
            kind = {"datatype": "BYTES", "parameters": {"content_type": "str"}}
        elif isinstance(value, int):
            kind = {"datatype": "INT64"}
        else:  # a float, or None (a missing total_charges: JSON has no NaN)
            kind = {"datatype": "FP64"}
        inputs.append({"name": name, "shape": [1], "data": [value], **kind})
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def _prepare(venv: Path) -> None:
    """The model's settings: ChurnLab's own model directory, served by the custom runtime."""
    model = SETTINGS_DIR / MODEL_NAME
    model.mkdir(parents=True, exist_ok=True)
    settings = {
        "name": MODEL_NAME,
        "implementation": "lab.bench.peers.mlserver_runtime.ChurnRuntime",
        "parameters": {"uri": str(ROOT / "models" / "current")},
    }
    (model / "model-settings.json").write_text(json.dumps(settings))


def _command(venv: Path, port: int) -> list[str]:
    """On loopback, REST on `port`, gRPC and metrics on free ports of their own."""
    settings = {
        "MLSERVER_HOST": "127.0.0.1",
        "MLSERVER_HTTP_PORT": port,
        "MLSERVER_GRPC_PORT": free_port(),
        "MLSERVER_METRICS_PORT": free_port(),
        "MLSERVER_PARALLEL_WORKERS": WORKERS,
    }
    return [
        "env", *(f"{name}={value}" for name, value in settings.items()),
        str(venv / "bin" / "mlserver"), "start", str(SETTINGS_DIR),
    ]  # fmt: skip


PEER = Peer(
    name="MLServer",
    requirements=REQUIREMENTS,  # the venv MODEL_SERVER=mlserver runs in too
    health_path=f"/v2/models/{MODEL_NAME}/ready",  # the model loaded, not only the server
    predict_path=f"/v2/models/{MODEL_NAME}/infer",
    body=oip_request,
    probability=lambda answer: answer["outputs"][0]["data"][0],
    command=_command,
    prepare=_prepare,
)
