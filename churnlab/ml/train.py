"""Train the churn pipeline (feature prep + encoders + logistic regression) with a fixed seed.

`python -m churnlab.ml.train` fetches the data if needed, trains on a stratified split, evaluates
on the holdout and exports a versioned ONNX artifact with its model card (what `make model` runs).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
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


def build_pipeline(seed: int = SEED) -> Pipeline:
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
    classifier = LogisticRegression(C=0.5, max_iter=2_000, random_state=seed)
    return Pipeline([("encoders", encoders), ("classifier", classifier)])


def train(records: pd.DataFrame, target: pd.Series, seed: int = SEED) -> TrainedModel:
    """Fit on a stratified split so the holdout keeps the data's 26.5% churn rate."""
    features = feature_frame(records)
    train_x, holdout_x, train_y, holdout_y = train_test_split(
        features, target, test_size=HOLDOUT_FRACTION, stratify=target, random_state=seed
    )
    pipeline = build_pipeline(seed).fit(train_x, train_y)
    return TrainedModel(pipeline, train_x, holdout_x, holdout_y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATASET_PATH)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    args = parser.parse_args()
    data_path = fetch_dataset(args.data)
    records, target = load_dataset(data_path)
    trained = train(records, target)
    metrics = holdout_metrics(
        trained.holdout_target, trained.pipeline.predict_proba(trained.holdout_features)[:, 1]
    )
    artifact_dir = export_artifact(
        trained,
        metrics=metrics,
        dataset_hash=dataset_sha256(data_path),
        models_dir=args.models_dir,
    )
    print(f"model {artifact_dir.name}: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
