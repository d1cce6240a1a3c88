"""The composition root: the one place where each deployable gets its stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from churnlab.adapters.batching import BatchPolicy
from churnlab.adapters.local_stages import BackgroundModel, LocalFeatures, LoggedIngest
from churnlab.adapters.periodic import every
from churnlab.adapters.prediction_log import PredictionLog
from churnlab.config import Settings
from churnlab.domain.customer_ids import CustomerIds
from churnlab.workflow import ChurnWorkflow

if TYPE_CHECKING:
    from churnlab.adapters.http_stages import HttpInference

SECONDS_PER_DAY = 86_400


def ingest_stage(settings: Settings) -> LoggedIngest:
    """SQLite where one machine is the whole world; PostgreSQL when a URL says so (a cluster).
    Retention runs in the background, in one process of the log at a time."""
    if settings.prediction_log_url:
        # Imported here: psycopg is only installed in the images that write the log.
        from churnlab.adapters.postgres_log import PostgresPredictionLog

        prediction_log = PostgresPredictionLog(
            settings.prediction_log_url,
            write_timeout_seconds=settings.prediction_log_write_timeout_seconds,
            single_copy=settings.prediction_log_single_copy,
        )
    else:
        prediction_log = PredictionLog(
            settings.prediction_log_path, synchronous=settings.sqlite_synchronous
        )
    key_file = settings.customer_id_key_file
    ingest = LoggedIngest(
        prediction_log,
        CustomerIds(key_file.read_bytes().strip() if key_file else None),
        write_timeout_seconds=settings.prediction_log_write_timeout_seconds + 1,
    )
    if settings.retention_every_seconds > 0:
        every(
            settings.retention_every_seconds,
            lambda: ingest.maintain(
                settings.retention_days * SECONDS_PER_DAY, settings.retention_max_rows
            ),
            "log-retention",
        )
    return ingest


def features_stage(settings: Settings) -> LocalFeatures:
    return LocalFeatures()


def inference_stage(settings: Settings) -> BackgroundModel:
    """The model, in the monolith's workers and the model tier's alike, batching if told to."""
    batching = (
        BatchPolicy(settings.batch_max_rows, settings.batch_max_wait_seconds)
        if settings.batching
        else None
    )
    return BackgroundModel(settings.model_dir, batching=batching).start()


def inprocess_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage in this process: the monolith."""
    return ChurnWorkflow(
        ingest=ingest_stage(settings),
        features=features_stage(settings),
        inference=inference_stage(settings),
    )


def hybrid_workflow(settings: Settings) -> ChurnWorkflow:
    """Ingest, features and the response beside the public API, the model a service apart:
    how BentoML, KServe and Triton deploy one. The API replica scales with its traffic, the
    model tier with the model's cost, and a new model replaces the model tier alone."""
    return ChurnWorkflow(
        ingest=ingest_stage(settings),
        features=features_stage(settings),
        inference=remote_inference(settings),
    )


def http_workflow(settings: Settings) -> ChurnWorkflow:
    """Every stage a service behind HTTP: the gateway. Ingest degrades to a local spool."""
    # Imported here: the HTTP client libraries are only installed in the gateway's image.
    from churnlab.adapters.http_stages import HttpFeatures, HttpIngest
    from churnlab.adapters.spool import Spool
    from churnlab.adapters.stage_client import StageClient

    spool = (
        Spool(
            settings.spool_path,
            synchronous=settings.sqlite_synchronous,
            max_bytes=settings.spool_max_mb << 20,
        )
        if settings.spool
        else None
    )
    ingest_client = StageClient(
        "ingest",
        settings.ingest_urls,
        settings,
        read_timeout_seconds=settings.ingest_read_timeout_seconds,
    )
    return ChurnWorkflow(
        ingest=HttpIngest(
            ingest_client,
            spool,
            replay_every=settings.replay_every_seconds,
            drain_seconds=settings.spool_drain_seconds,
        ),
        features=HttpFeatures(StageClient("features", settings.features_urls, settings)),
        inference=remote_inference(settings),
    )


def remote_inference(settings: Settings) -> HttpInference:
    """The model tier at settings.inference_urls, for the gateway and the hybrid API alike."""
    from churnlab.adapters import inference_protocol as protocol
    from churnlab.adapters.http_stages import HttpInference
    from churnlab.adapters.stage_client import StageClient

    return HttpInference(
        StageClient("inference", settings.inference_urls, settings, ready_path=protocol.READY_PATH)
    )
