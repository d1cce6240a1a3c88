"""MLflow `models serve` on the same model and record, for `make bench` to measure beside ChurnLab.

The server many users would otherwise reach for: the very pipeline `make model` trains (same
code, same seed, same feature code in front of it), saved with `mlflow.sklearn` to answer
`predict_proba`, served by `mlflow models serve` with two workers, on loopback. MLflow and
its dependencies live in their own venv under build/ (created on first use), never in
ChurnLab's: `python -m lab.bench.mlflow_baseline save DIR` runs there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from runtimes.paths import ROOT
from runtimes.ports import free_port

VENV = ROOT / "build" / "mlflow-venv"
MODEL_DIR = ROOT / "build" / "mlflow-model"


def ensure_venv() -> Path:
    """MLflow in a venv of its own, with ChurnLab and what its training needs."""
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "mlflow").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        install = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*install, "mlflow>=3,<4", "-e", f"{ROOT}[train]"], check=True)
    return python


def save(directory: Path) -> None:
    """(In the MLflow venv.) Train the ChurnLab pipeline as `make model` does, put the feature
    code in front of it, and save it as an MLflow model that answers probabilities."""
    import mlflow.sklearn
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
    from churnlab.ml.train import feature_frame, train

    records, target = load_dataset(DEFAULT_DATASET_PATH)
    model = Pipeline(
        [
            ("features", FunctionTransformer(feature_frame)),
            ("churn", train(records, target).pipeline),
        ]
    )
    mlflow.sklearn.save_model(
        model,
        str(directory),
        pyfunc_predict_fn="predict_proba",
        # MLflow 3 saves with skops, which loads only types it is told to trust.
        skops_trusted_types=[f"{feature_frame.__module__}.{feature_frame.__name__}"],
    )


@contextmanager
def served(workers: int = 2, timeout: float = 180) -> Iterator[str]:
    """`mlflow models serve` on a free loopback port; its URL, until the block ends."""
    python = ensure_venv()
    if not (MODEL_DIR / "MLmodel").exists():
        subprocess.run(
            [str(python), "-m", "lab.bench.mlflow_baseline", "save", str(MODEL_DIR)],
            cwd=ROOT,
            check=True,
        )
    port = free_port()
    server = subprocess.Popen(
        [
            str(VENV / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            str(MODEL_DIR),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(workers),
        ],
        cwd=ROOT,
        # It starts uvicorn by name: the venv's own bin must come first.
        env=os.environ | {"PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '')}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _pings(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not start (exit {server.poll()})")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def probability(url: str, record: dict) -> float:
    answer = requests.post(
        f"{url}/invocations", json={"dataframe_records": [record]}, timeout=30
    ).json()
    return answer["predictions"][0][1]


def _pings(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save"])
    parser.add_argument("directory", type=Path)
    save(parser.parse_args().directory)


if __name__ == "__main__":
    main()
