"""Response: turn scores into what a retention team acts on (label, risk band, reasons)."""

from __future__ import annotations

from typing import Any

from churnlab.domain.features import REASON_FIELD, FeatureColumns
from churnlab.domain.ingest import AcceptedRequest
from churnlab.domain.scores import Scores

CHURN_THRESHOLD = 0.5
# Lower bounds of each risk band; below the first is "low".
RISK_BANDS = (("high", 0.6), ("medium", 0.3))
TOP_REASONS = 3


def risk_band(churn_probability: float) -> str:
    for band, lower_bound in RISK_BANDS:
        if churn_probability >= lower_bound:
            return band
    return "low"


def top_reasons(
    contributions: dict[str, float], features: FeatureColumns, row: int
) -> list[dict[str, Any]]:
    """The customer fields that raised the churn log-odds the most, largest first.

    Derived features count towards the field they are computed from (see REASON_FIELD).
    """
    by_field: dict[str, float] = {}
    for name, impact in contributions.items():
        field = REASON_FIELD.get(name, name)
        by_field[field] = by_field.get(field, 0.0) + impact
    raising = sorted((item for item in by_field.items() if item[1] > 0), key=lambda item: -item[1])
    return [
        {"feature": field, "value": features[field][row], "impact": round(impact, 4)}
        for field, impact in raising[:TOP_REASONS]
    ]


def build_predictions(
    accepted: AcceptedRequest, features: FeatureColumns, scores: Scores, *, recorded: bool
) -> list[dict[str, Any]]:
    """One response body per accepted record, in request order."""
    return [
        {
            "request_id": record_id,
            "customer_id": record.customer_id,
            "churn_probability": round(probability, 6),
            "churn": probability >= CHURN_THRESHOLD,
            "risk": risk_band(probability),
            "reasons": top_reasons(contributions, features, row),
            "model_version": scores.model_version,
            "recorded": recorded,
        }
        for row, (record_id, record, probability, contributions) in enumerate(
            zip(
                accepted.record_ids,
                accepted.records,
                scores.churn_probability,
                scores.contributions,
                strict=True,
            )
        )
    ]
