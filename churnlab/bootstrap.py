"""The composition root: the one place where a workflow's stages are chosen."""

from __future__ import annotations

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.config import Settings
from churnlab.inprocess import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.workflow import ChurnWorkflow


def inprocess_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage in this process: the monolith."""
    return ChurnWorkflow(
        ingest=LoggedIngest(
            PredictionLog(settings.prediction_log_path, synchronous=settings.sqlite_synchronous)
        ),
        features=LocalFeatures(),
        inference=BackgroundModel(settings.model_dir).start(),
    )
