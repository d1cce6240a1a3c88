"""What inference returns: kept apart from the ONNX code so the gateway can use it without numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """Inference output, column-wise (inference_protocol.py carries it between services)."""

    model_version: str
    churn_probability: list[float]
    contributions: list[dict[str, float]]

    def split(self, rows: Sequence[int]) -> list[Scores]:
        """A batch's scores back into its parts of `rows` rows each (features.joined's parts)."""
        parts, start = [], 0
        for count in rows:
            end = start + count
            parts.append(
                Scores(
                    self.model_version,
                    self.churn_probability[start:end],
                    self.contributions[start:end],
                )
            )
            start = end
        if start != len(self.churn_probability):
            raise ValueError(f"{start} rows asked for, {len(self.churn_probability)} scored")
        return parts
