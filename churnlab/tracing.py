"""OpenTelemetry traces through every hop, configured only by the standard OTEL_* variables.

Off unless OTEL_TRACES_EXPORTER names an exporter: `otlp` (OTLP over HTTP, to
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or `console` (each span as
JSON on stdout). Off, the spans below are the API's no-op ones and cost next to nothing. On,
sampling is the SDK's, from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (every trace by
default; `parentbased_traceidratio` with `0.01` keeps one in a hundred), and OTEL_SERVICE_NAME
overrides the deployable's name.

Each request's W3C `traceparent` is read where it arrives (the Flask instrumentation) and sent
on with every stage call (the urllib3 instrumentation, in the gateway), so that a prediction is
one trace across the edge's callers and every service. Each request's server span carries its
request id, which the edge's log lines carry too: that ties the edge's timings to the trace.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:
    from flask import Flask

EXPORTER = "OTEL_TRACES_EXPORTER"
REQUEST_ID = "churnlab.request_id"
# Polled all the time, and no part of any workflow.
UNTRACED_PATHS = "livez,readyz,metrics"

tracer = trace.get_tracer("churnlab")
_provider: list[TracerProvider] = []  # once per process: OpenTelemetry's provider is global


def exporter_from_environment() -> SpanExporter | None:
    """The exporter OTEL_TRACES_EXPORTER names, or None for none; any other name is an error,
    raised at start rather than found missing when a trace is looked for."""
    name = os.environ.get(EXPORTER, "none").strip().lower()
    if name == "none" or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    raise ValueError(f"{EXPORTER}={name!r}: this deployment sends traces by otlp, console or none")


def provide(service: str, processor: SpanProcessor) -> TracerProvider:
    """This process's tracer provider, made on the first call (later calls get the same one),
    and the stage clients' calls carrying the trace on where the gateway's HTTP client is."""
    if not _provider:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _provider.append(provider)
        try:
            from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
        except ImportError:  # only the gateway's image calls other services
            pass
        else:
            URLLib3Instrumentor().instrument(tracer_provider=provider)
    return _provider[0]


def configure(app: Flask, service: str) -> None:
    """Trace the app's requests where the environment asks for traces (or a provider is
    already there); otherwise leave it untouched."""
    exporter = None if _provider else exporter_from_environment()
    if exporter is not None:
        provide(service, BatchSpanProcessor(exporter))
    if _provider:
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(
            app, tracer_provider=_provider[0], excluded_urls=UNTRACED_PATHS
        )


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A span of the current trace (a no-op one when traces are off)."""
    with tracer.start_as_current_span(name, attributes=attributes or None):
        yield


def tag_request(request_id: str) -> None:
    """The request's id on its server span: the key to the edge's log line of the same call."""
    trace.get_current_span().set_attribute(REQUEST_ID, request_id)
