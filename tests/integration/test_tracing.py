"""Traces in-process: the monolith's request as one trace of its stages, the caller's trace
carried on, the request id on the server span; and the OTEL_* variables read as documented.
tests/e2e/test_tracing.py follows one prediction through the microservices' processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from churnlab import tracing

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def exported() -> Iterator[InMemorySpanExporter]:
    """This test process's provider (OpenTelemetry's is global, and stays): every app made
    after it is traced, into memory, until the module ends and the provider is shut down."""
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    exporter = InMemorySpanExporter()
    provider = tracing.provide("tests", SimpleSpanProcessor(exporter))
    yield exporter
    provider.shutdown()
    URLLib3Instrumentor().uninstrument()


@pytest.fixture
def traced(exported, settings):
    from monolith.app import create_app

    app = create_app(settings)
    assert app.extensions["churnlab.workflow"].inference.wait(30)
    exported.clear()
    return app.test_client()


def test_a_prediction_is_one_trace_of_its_stages_under_the_caller_s(traced, exported, record_body):
    parent = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
    answer = traced.post(
        "/v1/predict", json=record_body, headers={"traceparent": parent, "X-Request-ID": "t-1"}
    )
    assert answer.status_code == 200
    spans = exported.get_finished_spans()
    assert {format(span.context.trace_id, "032x") for span in spans} == {CALLER_TRACE}
    [server] = [span for span in spans if span.name == "POST /v1/predict"]
    assert server.attributes[tracing.REQUEST_ID] == "t-1"
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {
        "POST /v1/predict", "decode and validate", "features", "inference", "ingest", "log commit",
    }  # fmt: skip
    for stage in ("decode and validate", "features", "inference", "ingest"):
        assert by_name[stage].parent.span_id == server.context.span_id
    assert by_name["log commit"].parent.span_id == by_name["ingest"].context.span_id


def test_spans_hold_no_customer_data_not_even_in_a_refusal(traced, exported, record_body):
    """A validation error quotes what was sent; a path may name a customer. Neither reaches a
    span: the error is named, not recorded, and paths are their routes' templates."""
    secret = "SECRET-4711"
    refused = traced.post("/v1/predict", json=dict(record_body, customer_id=secret, tenure=-987654))
    assert refused.status_code == 422
    traced.delete(f"/v1/customers/{secret}/predictions?note={secret}")
    spans = exported.get_finished_spans()
    assert len(spans) >= 3
    for span in spans:
        kept = [span.name, *map(str, span.attributes.values())]
        kept += [str(event.attributes) for event in span.events]
        assert not [text for text in kept if secret in text or "987654" in text], span.name
    [validation] = [span for span in spans if span.name == "decode and validate"]
    assert validation.attributes["error.type"] == "ValidationError"
    [erase] = [span for span in spans if span.name.startswith("DELETE")]
    assert erase.attributes["http.target"] == "/v1/customers/<customer_id>/predictions"


def test_a_url_sent_to_a_stage_names_no_customer_and_no_prediction():
    assert (
        tracing.without_ids("http://ingest:8000/v1/customers/7590-VHVEG/predictions?x=1")
        == "http://ingest:8000/v1/customers/{id}/predictions"
    )
    assert tracing.without_ids("http://ingest:8000/v1/predictions/ab12") == (
        "http://ingest:8000/v1/predictions/{id}"
    )
    assert tracing.without_ids("http://features:8000/v1/features") == (
        "http://features:8000/v1/features"
    )


def test_probes_are_not_traced(traced, exported):
    assert traced.get("/readyz").status_code == 200
    assert traced.get("/livez").status_code == 200
    assert exported.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("environment", "exporter"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_TRACES_EXPORTER": "console"}, "ConsoleSpanExporter"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "OTLPSpanExporter"),
    ],
)
def test_traces_are_off_unless_an_exporter_is_named(monkeypatch, environment, exporter):
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    found = tracing.exporter_from_environment()
    assert (type(found).__name__ if found else None) == exporter


def test_otel_service_name_names_the_service_and_the_deployable_s_name_is_the_default(
    monkeypatch,
):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    assert tracing.resource("gateway").attributes["service.name"] == "gateway"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "churn-gateway-eu")
    assert tracing.resource("gateway").attributes["service.name"] == "churn-gateway-eu"


def test_an_exporter_this_deployment_cannot_send_by_stops_it_at_start(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    with pytest.raises(ValueError, match="otlp, console or none"):
        tracing.exporter_from_environment()


@pytest.mark.parametrize("file", ["monolith", "micro", "swarm/monolith", "swarm/micro"])
def test_compose_and_the_swarm_pass_the_tracing_variables_on_to_every_app_and_set_none(file):
    """Off unless the user's shell names an exporter: each is passed on, none is given a value;
    the same ones on Compose and on the swarm, whose deploy forwards them from the shell."""
    import yaml

    from runtimes.paths import ROOT
    from runtimes.swarm import STACK_SETTINGS

    stack = yaml.safe_load((ROOT / "compose" / f"{file}.yaml").read_text())
    compose = yaml.safe_load((ROOT / "compose" / "micro.yaml").read_text())
    apps = {
        name: service
        for name, service in stack["services"].items()
        if "churnlab/" in service.get("image", "") and name not in {"edge", "prometheus"}
    }
    assert apps
    for name, service in apps.items():
        passed = {k: v for k, v in service["environment"].items() if k.startswith("OTEL_")}
        assert passed.keys() == compose["x-tracing"].keys(), name
        assert set(passed.values()) == {None}, name
    if file.startswith("swarm/"):
        assert set(compose["x-tracing"]) <= set(STACK_SETTINGS)
