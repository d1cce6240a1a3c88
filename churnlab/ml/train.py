"""Train the churn pipeline (feature prep + encoders + a classifier) with a fixed seed, on a
stratified split. The classifier is logistic regression (served by default), or one of the
heavier real models the lab spans the range of model costs with, on the same features: a neural
network (`depth` hidden layers of `width` units) or gradient-boosted trees (`trees` of them,
scikit-learn's, which skl2onnx exports without another library). Evaluation and
export are apart (evaluate.py, export.py; `python -m churnlab.ml` runs all three), so training
imports nothing downstream of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnlab.domain.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, prepare_features

SEED = 20_241_125
HOLDOUT_FRACTION = 0.2
KINDS = ("logistic", "mlp", "gbt")


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    train_features: pd.DataFrame
    holdout_features: pd.DataFrame
    holdout_target: pd.Series
    spec: ModelSpec


@dataclass(frozen=True)
class ModelSpec:
    """Which classifier, with its size knobs (each kind reads its own)."""

    kind: str = "logistic"  # logistic, mlp or gbt
    width: int = 256  # mlp: units per hidden layer
    depth: int = 2  # mlp: hidden layers
    trees: int = 200  # gbt: boosting rounds, one tree each

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind {self.kind!r}: choose from {', '.join(KINDS)}")

    @property
    def name(self) -> str:
        """The model card's name, by which the lab finds a trained model again."""
        return {
            "logistic": "churn-logistic-regression",
            "mlp": f"churn-mlp-{self.depth}x{self.width}",
            "gbt": f"churn-gbt-{self.trees}",
        }[self.kind]

    def classifier(self, seed: int) -> object:
        if self.kind == "mlp":
            return MLPClassifier(
                hidden_layer_sizes=(self.width,) * self.depth,
                alpha=1e-3,
                batch_size=256,
                max_iter=30,
                early_stopping=True,
                random_state=seed,
            )
        if self.kind == "gbt":  # no early stopping: the tree count is the knob
            return GradientBoostingClassifier(
                n_estimators=self.trees, learning_rate=0.05, max_depth=3, random_state=seed
            )
        return LogisticRegression(C=0.5, max_iter=2_000, random_state=seed)


def feature_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The serving feature code applied to the training data: one implementation for both."""
    return pd.DataFrame(prepare_features(records.to_dict("list")))[
        list(CATEGORICAL_FEATURES + NUMERIC_FEATURES)
    ]


def build_pipeline(seed: int = SEED, spec: ModelSpec = ModelSpec()) -> Pipeline:
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
    return Pipeline([("encoders", encoders), ("classifier", spec.classifier(seed))])


def train(
    records: pd.DataFrame,
    target: pd.Series,
    seed: int = SEED,
    spec: ModelSpec = ModelSpec(),
) -> TrainedModel:
    """Fit on a stratified split so the holdout keeps the data's 26.5% churn rate."""
    features = feature_frame(records)
    train_x, holdout_x, train_y, holdout_y = train_test_split(
        features, target, test_size=HOLDOUT_FRACTION, stratify=target, random_state=seed
    )
    pipeline = build_pipeline(seed, spec).fit(train_x, train_y)
    return TrainedModel(pipeline, train_x, holdout_x, holdout_y, spec)
