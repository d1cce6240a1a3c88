"""MLflow `models serve`: the server many users would otherwise reach for, on the very pipeline
`make model` trains (same code, same seed, the same feature code in front of it), saved with
`mlflow.sklearn` to answer `predict_proba`. `python -m lab.bench.peers.mlflow_peer save DIR`
saves it, in the peer's venv."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from lab.bench.peers.serving import WORKERS, Peer
from runtimes.paths import ROOT

MODEL_DIR = ROOT / "build" / "mlflow-model"
MODULE = "lab.bench.peers.mlflow_peer"  # run in the peer's venv to save the model


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


def _prepare(venv: Path) -> None:
    if not (MODEL_DIR / "MLmodel").exists():
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "lab.bench.peers.mlflow_peer",
                "save",
                str(MODEL_DIR),
            ],
            cwd=ROOT,
            check=True,
        )


PEER = Peer(
    name="MLflow",
    # The trace view's, as docker/requirements/traces.txt locks it (3.18 wants an
    # mlflow-tracing pip finds none of).
    # What training and the domain code import, beside it (ChurnLab's own pins fight MLflow's).
    requirements=(
        "mlflow==3.17.2",
        "scikit-learn>=1.4,<2",
        "pandas>=2.1,<4",
        "uuid6>=2024.7.10,<2026",
    ),
    health_path="/ping",
    predict_path="/invocations",
    body=lambda record: {"dataframe_records": [record]},
    probability=lambda answer: answer["predictions"][0][1],
    command=lambda venv, port: [
        str(venv / "bin" / "mlflow"),
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
        str(WORKERS),
    ],
    prepare=_prepare,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save"])
    parser.add_argument("directory", type=Path)
    save(parser.parse_args().directory)


if __name__ == "__main__":
    main()
