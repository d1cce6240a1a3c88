"""Train the churn pipeline (feature prep + encoders + a classifier) with a fixed seed.

`python -m churnlab.ml.train` fetches the data if needed, trains on a stratified split, evaluates
on the holdout and exports a versioned ONNX artifact with its model card (what `make model`
runs). The classifier is logistic regression; `--model mlp --width N` trains a neural network
(two hidden layers of N units) on the same features instead: a heavier real model whose width
sets its cost per prediction, for `make compare` to ask when the microservices' overhead stops
mattering (`--no-current` leaves models/current alone).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnlab.domain.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, prepare_features
from churnlab.ml.data import DEFAULT_DATASET_PATH, dataset_sha256, fetch_dataset, load_dataset
from churnlab.ml.evaluate import holdout_metrics
from churnlab.ml.export import DEFAULT_MODELS_DIR, export_artifact

SEED = 20_241_125
HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    train_features: pd.DataFrame
    holdout_features: pd.DataFrame
    holdout_target: pd.Series


def feature_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The serving feature code applied to the training data: one implementation for both."""
    return pd.DataFrame(prepare_features(records.to_dict("list")))[
        list(CATEGORICAL_FEATURES + NUMERIC_FEATURES)
    ]


def build_pipeline(seed: int = SEED, kind: str = "logistic", width: int = 256) -> Pipeline:
    """Columns by position (categoricals first), so the ONNX graph takes just two tensors."""
    categorical = list(range(len(CATEGORICAL_FEATURES)))
    numeric = list(range(len(categorical), len(categorical) + len(NUMERIC_FEATURES)))
    encoders = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numeric", StandardScaler(), numeric),
        ],
        sparse_threshold=0,
    )
    classifier = (
        LogisticRegression(C=0.5, max_iter=2_000, random_state=seed)
        if kind == "logistic"
        else MLPClassifier(
            hidden_layer_sizes=(width, width),
            alpha=1e-3,
            batch_size=256,
            max_iter=30,
            early_stopping=True,
            random_state=seed,
        )
    )
    return Pipeline([("encoders", encoders), ("classifier", classifier)])


def train(
    records: pd.DataFrame,
    target: pd.Series,
    seed: int = SEED,
    kind: str = "logistic",
    width: int = 256,
) -> TrainedModel:
    """Fit on a stratified split so the holdout keeps the data's 26.5% churn rate."""
    features = feature_frame(records)
    train_x, holdout_x, train_y, holdout_y = train_test_split(
        features, target, test_size=HOLDOUT_FRACTION, stratify=target, random_state=seed
    )
    pipeline = build_pipeline(seed, kind, width).fit(train_x, train_y)
    return TrainedModel(pipeline, train_x, holdout_x, holdout_y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATASET_PATH)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--model", choices=["logistic", "mlp"], default="logistic")
    parser.add_argument("--width", type=int, default=256, help="mlp: units per hidden layer")
    parser.add_argument("--no-current", action="store_true", help="leave models/current as is")
    args = parser.parse_args()
    data_path = fetch_dataset(args.data)
    records, target = load_dataset(data_path)
    trained = train(records, target, kind=args.model, width=args.width)
    metrics = holdout_metrics(
        trained.holdout_target, trained.pipeline.predict_proba(trained.holdout_features)[:, 1]
    )
    artifact_dir = export_artifact(
        trained,
        metrics=metrics,
        dataset_hash=dataset_sha256(data_path),
        models_dir=args.models_dir,
        current=not args.no_current,
    )
    print(f"model {artifact_dir.name}: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
