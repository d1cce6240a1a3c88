"""OpenTelemetry traces through every hop, configured only by the standard OTEL_* variables.

Off unless OTEL_TRACES_EXPORTER names an exporter: `otlp` (OTLP over HTTP, to
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or `console` (each span as
JSON on stdout). Off, the spans below are the API's no-op ones and cost next to nothing. On,
sampling is the SDK's, from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (every trace by
default; `parentbased_traceidratio` with `0.01` keeps one in a hundred), and OTEL_SERVICE_NAME
overrides the deployable's name.

Each request's W3C `traceparent` is read where it arrives (the Flask instrumentation) and sent
on with every stage call (the urllib3 instrumentation, in the gateway), so that a prediction is
one trace across every service. The public edge drops a caller's trace headers: a caller does
not choose what is sampled. Each request's server span carries its request id, which the
edge's log lines carry too: that ties the edge's timings to the trace.

Spans hold no customer data: no exception's message (a validation error quotes the values
sent), and paths as their route templates (`/v1/customers/{id}/predictions`), never as sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:
    from flask import Flask

EXPORTER = "OTEL_TRACES_EXPORTER"
REQUEST_ID = "churnlab.request_id"
# Polled all the time, and no part of any workflow: the probes, served and sent (the gateway's
# health watch). Regular expressions searched in the whole URL, so anchored to its path.
UNTRACED_PATHS = r"^https?://[^/]+/(livez|readyz|metrics)(\?.*)?$"
# Where a path holds an id of a customer or of a prediction: the segment after these.
_IDENTIFIED = re.compile(r"/(customers|predictions)/[^/?#]+")
_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")

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


def resource(service: str) -> Resource:
    """Who sends the spans: OTEL_SERVICE_NAME where set, else the deployable's name (the SDK
    would let the name given here win over the variable)."""
    return Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service})


def provide(service: str, processor: SpanProcessor) -> TracerProvider:
    """This process's tracer provider, made on the first call (later calls get the same one),
    and the stage clients' calls carrying the trace on where the gateway's HTTP client is."""
    if not _provider:
        provider = TracerProvider(resource=resource(service))
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _provider.append(provider)
        try:
            from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
        except ImportError:  # only the gateway's image calls other services
            pass
        else:
            URLLib3Instrumentor().instrument(
                tracer_provider=provider, excluded_urls=UNTRACED_PATHS, url_filter=without_ids
            )
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
            app,
            tracer_provider=_provider[0],
            excluded_urls=UNTRACED_PATHS,
            response_hook=_route_not_path,
        )


def without_ids(url: str) -> str:
    """The URL with no customer's or prediction's id in its path."""
    return _IDENTIFIED.sub(r"/\1/{id}", url.split("?", 1)[0])


def _route_not_path(span: trace.Span, *_: Any) -> None:
    """The server span's URL attributes, which hold the path as sent, as the route's template:
    on the answer, since the instrumentation sets them after its request hook."""
    if not span.is_recording():
        return
    template = span.attributes.get("http.route", "<unmatched>")
    for name in _URL_ATTRIBUTES:
        if name in span.attributes:
            span.set_attribute(name, template)


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A span of the current trace (a no-op one when traces are off). An exception is named
    on it (`error.type`) but not recorded: its message may quote what a customer sent."""
    with tracer.start_as_current_span(
        name, attributes=attributes or None, record_exception=False,
        set_status_on_exception=False,
    ) as current:  # fmt: skip
        try:
            yield
        except BaseException as error:
            current.set_attribute("error.type", type(error).__name__)
            raise


def tag_request(request_id: str) -> None:
    """The request's id on its server span: the key to the edge's log line of the same call."""
    trace.get_current_span().set_attribute(REQUEST_ID, request_id)
