"""The composition root: the one place where a workflow's stages are chosen."""

from __future__ import annotations

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.config import Settings
from churnlab.inprocess import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.workflow import ChurnWorkflow


def prediction_log(settings: Settings) -> PredictionLog:
    return PredictionLog(settings.prediction_log_path, synchronous=settings.sqlite_synchronous)


def inprocess_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage in this process: the monolith."""
    return ChurnWorkflow(
        ingest=LoggedIngest(prediction_log(settings)),
        features=LocalFeatures(),
        inference=BackgroundModel(settings.model_dir).start(),
    )


def http_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage a service behind HTTP: the gateway. Ingest degrades to a local spool."""
    # Imported here: the HTTP client libraries are only installed in the gateway's image.
    from churnlab.adapters.http_stages import HttpFeatures, HttpInference, SpoolingIngest
    from churnlab.adapters.stage_client import StageClient

    spool = PredictionLog(settings.spool_path, synchronous=settings.sqlite_synchronous)
    return ChurnWorkflow(
        ingest=SpoolingIngest(
            StageClient("ingest", settings.ingest_urls, settings),
            spool,
            replay_every=settings.replay_every_seconds,
        ),
        features=HttpFeatures(StageClient("features", settings.features_urls, settings)),
        inference=HttpInference(StageClient("inference", settings.inference_urls, settings)),
    )
