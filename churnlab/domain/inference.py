"""Inference: churn probabilities from the ONNX model, plus each feature's contribution.

The contributions are exact for the linear model: coefficient times the feature's distance from
the training mean, in log-odds (linear SHAP), from a table exported with the model. For the
neural network the table is a linear surrogate of its log-odds (its fidelity is on the card).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime

from churnlab.domain.errors import ModelIntegrityError, UnknownCategoryError
from churnlab.domain.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FeatureColumns
from churnlab.domain.model_card import CATEGORICAL_INPUT, NUMERIC_INPUT, ModelArtifact
from churnlab.domain.scores import Scores

WARMUP_TOLERANCE = 1e-5


def _matrix(features: FeatureColumns, names: Sequence[str], dtype: type) -> np.ndarray:
    """Stack feature columns into the [rows, len(names)] array the ONNX graph takes."""
    return np.ascontiguousarray(np.array([features[name] for name in names], dtype=dtype).T)


def served_session(onnx_path: Path) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session as the model tier serves one: on the CPU, single-threaded (the
    server scales with processes, not intra-op threads), making no calls home."""
    onnxruntime.disable_telemetry_events()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


class ChurnModel:
    """An ONNX Runtime session over a verified artifact, single-threaded per process."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self.card = artifact.card
        self._session = served_session(artifact.onnx_path)
        self._output = self.card["onnx_output"]
        explainer = self.card["explainer"]
        self._categorical_impacts: dict[str, dict[str, float]] = explainer["categorical"]
        self._numeric_weights: dict[str, tuple[float, float]] = {
            name: (entry["weight"], entry["mean"]) for name, entry in explainer["numeric"].items()
        }

    @classmethod
    def load(cls, model_dir: Path) -> ChurnModel:
        return cls(ModelArtifact.load(model_dir))

    @property
    def version(self) -> str:
        return self.artifact.version

    def predict(self, features: FeatureColumns) -> Scores:
        """Score every row of `features` in one ONNX call."""
        inputs = {
            CATEGORICAL_INPUT: _matrix(features, CATEGORICAL_FEATURES, object),
            NUMERIC_INPUT: _matrix(features, NUMERIC_FEATURES, np.float32),
        }
        probabilities = self._session.run([self._output], inputs)[0][:, 1]
        return Scores(
            model_version=self.version,
            churn_probability=probabilities.tolist(),
            contributions=self._contributions(features, len(probabilities)),
        )

    def check_categories(self, features: FeatureColumns) -> None:
        """UnknownCategoryError for a category the model was not trained on. Only the model
        tier's own API needs it: the public schema admits known categories alone."""
        unknown = {
            name: sorted(set(features[name]) - self._categorical_impacts[name].keys())
            for name in CATEGORICAL_FEATURES
        }
        if any(unknown.values()):
            raise UnknownCategoryError({name: found for name, found in unknown.items() if found})

    def _contributions(self, features: FeatureColumns, rows: int) -> list[dict[str, float]]:
        categorical = [
            (name, self._categorical_impacts[name], features[name]) for name in CATEGORICAL_FEATURES
        ]
        numeric = [
            (name, *self._numeric_weights[name], features[name]) for name in NUMERIC_FEATURES
        ]
        return [
            {name: impacts[values[row]] for name, impacts, values in categorical}
            | {name: weight * (values[row] - mean) for name, weight, mean, values in numeric}
            for row in range(rows)
        ]

    def warm_up(self) -> None:
        """Score the card's reference rows and insist on the probabilities recorded at export.

        This proves the runtime, the graph and the explanation table agree before the process
        reports ready.
        """
        reference = self.card["reference"]
        scores = self.predict(reference["features"])
        expected: Sequence[float] = reference["churn_probability"]
        baseline = self.card["explainer"]["baseline_log_odds"]
        exact = self.card["explainer"]["kind"] == "linear-log-odds"  # else a surrogate's
        for got, want, contributions in zip(
            scores.churn_probability, expected, scores.contributions, strict=True
        ):
            explained = 1 / (1 + math.exp(-(baseline + sum(contributions.values()))))
            if abs(got - want) > WARMUP_TOLERANCE or (exact and abs(explained - want) > 1e-4):
                raise ModelIntegrityError(
                    f"warm-up mismatch: onnx {got:.6f}, explained {explained:.6f}, card {want:.6f}"
                )
