"""The composition root: the one place where each deployable gets its stages."""

from __future__ import annotations

from churnlab.adapters.local_stages import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.adapters.prediction_log import PredictionLog
from churnlab.config import Settings
from churnlab.workflow import ChurnWorkflow


def ingest_stage(settings: Settings) -> LoggedIngest:
    """SQLite where one machine is the whole world; PostgreSQL when a URL says so (a cluster)."""
    if settings.prediction_log_url:
        # Imported here: psycopg is only installed in the images that write the log.
        from churnlab.adapters.postgres_log import PostgresPredictionLog

        return LoggedIngest(
            PostgresPredictionLog(
                settings.prediction_log_url,
                write_timeout_seconds=settings.prediction_log_write_timeout_seconds,
            )
        )
    return LoggedIngest(
        PredictionLog(settings.prediction_log_path, synchronous=settings.sqlite_synchronous)
    )


def features_stage(settings: Settings) -> LocalFeatures:
    return LocalFeatures()


def inference_stage(settings: Settings) -> BackgroundModel:
    return BackgroundModel(settings.model_dir).start()


def inprocess_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage in this process: the monolith."""
    return ChurnWorkflow(
        ingest=ingest_stage(settings),
        features=features_stage(settings),
        inference=inference_stage(settings),
    )


def http_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage a service behind HTTP: the gateway. Ingest degrades to a local spool."""
    # Imported here: the HTTP client libraries are only installed in the gateway's image.
    from churnlab.adapters.http_stages import HttpFeatures, HttpInference, SpoolingIngest
    from churnlab.adapters.stage_client import StageClient

    spool = (
        PredictionLog(settings.spool_path, synchronous=settings.sqlite_synchronous, name="spool")
        if settings.spool
        else None
    )
    return ChurnWorkflow(
        ingest=SpoolingIngest(
            StageClient("ingest", settings.ingest_urls, settings),
            spool,
            replay_every=settings.replay_every_seconds,
            threads=settings.ingest_threads,
        ),
        features=HttpFeatures(StageClient("features", settings.features_urls, settings)),
        inference=HttpInference(StageClient("inference", settings.inference_urls, settings)),
    )
