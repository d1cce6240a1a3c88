"""What inference returns: kept apart from the ONNX code so the gateway can use it without numpy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """Inference output, column-wise (inference_protocol.py carries it between services)."""

    model_version: str
    churn_probability: list[float]
    contributions: list[dict[str, float]]
