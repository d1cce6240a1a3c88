"""BentoML (its 1.4 service API), with a service (bentoml_service.py) over ChurnLab's ONNX model
and schema, served by `bentoml serve` with two worker processes."""

from __future__ import annotations

from lab.bench.peers.serving import WORKERS, Peer
from runtimes.paths import ROOT

PEER = Peer(
    name="BentoML",
    requirements=("bentoml>=1.4,<2", "onnxruntime>=1.17,<2", "uuid6>=2024.7.10,<2026"),
    health_path="/readyz",
    predict_path="/predict",
    body=lambda record: {"record": record},
    probability=float,
    command=lambda venv, port: [
        str(venv / "bin" / "bentoml"),
        "serve",
        "lab.bench.peers.bentoml_service:Churn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ],
    environment={
        "BENTOML_DO_NOT_TRACK": "True",  # no usage reports home
        "PEER_MODEL_DIR": str(ROOT / "models" / "current"),
        "PEER_WORKERS": str(WORKERS),
    },
)
