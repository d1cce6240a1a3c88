"""MLServer (Seldon's, the server KServe runs) as ChurnLab's model tier, in place of the
inference service: `MODEL_SERVER=mlserver` (runtimes/local.py). It runs in a venv of its own
(runtimes/venvs.py), as the bench's MLServer peer does, with the same requirements."""

# uvloop 0.22 raises where MLServer 1.7 asks a worker process for its event loop.
REQUIREMENTS = (
    "mlserver>=1.7,<2",
    "uvloop<0.22",
    "onnxruntime>=1.17,<2",
    "uuid6>=2024.7.10,<2026",
)
