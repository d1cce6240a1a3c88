"""Response: turn scores into what a retention team acts on (label, risk band, reasons)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from churnlab.domain.features import REASON_FIELD, FeatureColumns
from churnlab.domain.ingest import AcceptedRequest, LoggedPrediction, Outcome
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


def score_records(
    accepted: AcceptedRequest, features: FeatureColumns, scores: Scores
) -> list[LoggedPrediction]:
    """One prediction per accepted record, in request order: what is answered and recorded."""
    return [
        LoggedPrediction(
            prediction_id=prediction_id,
            position=row,
            record=record,
            churn_probability=round(probability, 6),
            churn=probability >= CHURN_THRESHOLD,
            risk=risk_band(probability),
            reasons=tuple(top_reasons(contributions, features, row)),
            model_version=scores.model_version,
        )
        for row, (prediction_id, record, probability, contributions) in enumerate(
            zip(
                accepted.prediction_ids,
                accepted.records,
                scores.churn_probability,
                scores.contributions,
                strict=True,
            )
        )
    ]


def answers(outcome: Outcome, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The response body of each prediction, from what was recorded. Customer ids come from the
    request, not the log, which may keep only their keyed hash (a replay's request is the same
    request as the first: its fingerprint says so)."""
    recording = outcome.recording
    return [
        {
            "prediction_id": prediction.prediction_id,
            "request_id": recording.request_id,
            "customer_id": customer_id,
            "churn_probability": prediction.churn_probability,
            "churn": prediction.churn,
            "risk": prediction.risk,
            "reasons": list(prediction.reasons),
            "model_version": prediction.model_version,
            "recorded": outcome.logged,
            "copies": outcome.copies,
        }
        for prediction, customer_id in zip(recording.predictions, customer_ids, strict=True)
    ]
