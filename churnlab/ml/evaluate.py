"""Holdout metrics recorded in the model card."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def holdout_metrics(churned: Sequence[int], churn_probability: Sequence[float]) -> dict[str, float]:
    """Ranking quality (ROC AUC, PR AUC) and calibration (Brier score) on unseen customers."""
    return {
        "roc_auc": round(float(roc_auc_score(churned, churn_probability)), 4),
        "pr_auc": round(float(average_precision_score(churned, churn_probability)), 4),
        "brier": round(float(brier_score_loss(churned, churn_probability)), 4),
    }
