"""What inference returns: kept apart from the ONNX code so the gateway can use it without numpy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scores:
    """Inference output, column-wise so it crosses HTTP as compact JSON."""

    model_version: str
    churn_probability: list[float]
    contributions: list[dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "churn_probability": self.churn_probability,
            "contributions": self.contributions,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Scores:
        return cls(
            model_version=body["model_version"],
            churn_probability=list(body["churn_probability"]),
            contributions=list(body["contributions"]),
        )
