"""One prediction, one trace, through every process of each deployment: each runs as local
processes sending their spans by OTLP over HTTP (the standard OTEL_* variables) to a receiver
here that decodes what the OpenTelemetry SDK sends. Each call is its own trace, every span of it
hangs from the one before it, and the microservices' hops are there: the gateway's encode, the
call, the stage's decode and validate and its compute, the gateway's decode, the log's commit;
and the hybrid's one hop, to the model tier, beside its own log commit."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
import requests

from lab.load.otlp import Received, otlp_receiver, traces_by_request
from runtimes.http import wait_for, wait_predicting
from tests.conftest import TEST_SETTINGS

CALLERS = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
STAGES = ("features", "inference", "ingest")
# The services each deployment's trace passes through.
SERVICES = {
    "monolith": {"monolith"},
    "micro": {*STAGES, "gateway"},
    "hybrid": {"hybrid", "inference"},
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Received]:
    with otlp_receiver() as received:
        yield received


def traced(name: str, receiver: Received, tmp_path_factory):
    from runtimes.local import local_deployment

    return local_deployment(
        name, tmp_path_factory.mktemp(f"traced-{name}"), **TEST_SETTINGS,
        OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.url,
        OTEL_BSP_SCHEDULE_DELAY="200",
    )  # fmt: skip


def trace_of(receiver: Received, request_id: str, services: set[str]) -> list[dict]:
    """Every span of the trace whose server span carries `request_id`, once each of `services`
    has sent its part (each process exports on its own schedule)."""

    def spans() -> list[dict]:
        return traces_by_request(receiver.spans).get(request_id, [])

    wait_for(lambda: {s["service"] for s in spans()} >= services, f"{request_id}'s spans", 30)
    return spans()


@pytest.mark.parametrize("deployment", sorted(SERVICES))
def test_each_prediction_is_one_trace_through_every_process(
    deployment, receiver, tmp_path_factory, record_body
):
    with traced(deployment, receiver, tmp_path_factory) as running:
        wait_predicting(running.url, record_body)
        ids = [f"trace-{deployment}-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        for request_id in ids:
            answer = requests.post(
                f"{running.url}/v1/predict", json=record_body,
                headers={"X-Request-ID": request_id, "traceparent": CALLERS}, timeout=10,
            )  # fmt: skip
            assert answer.status_code == 200
        traces = [trace_of(receiver, request_id, SERVICES[deployment]) for request_id in ids]
    # One trace per call, begun inside: the caller's context stayed at the edge.
    assert len({spans[0]["trace"] for spans in traces}) == 3
    assert CALLERS.split("-")[1] not in {spans[0]["trace"] for spans in traces}
    # The gateway's health watch polls each stage all the time, and is no part of a trace.
    assert not [s for s in receiver.spans if "readyz" in str(s["attributes"])]
    for spans in traces:
        by_id = {span["id"]: span for span in spans}
        roots = [span for span in spans if span["parent"] not in by_id]
        assert [root["name"] for root in roots] == ["POST /v1/predict"], roots
        names = defaultdict(set)
        for span in spans:
            names[span["service"]].add(span["name"])
        stages = {"decode and validate", "features", "inference", "ingest"}
        assert set(names) == SERVICES[deployment]
        if deployment == "monolith":
            assert names["monolith"] >= stages | {"log commit"}
            continue
        infer = "POST /v2/models/<name>/infer"  # the Open Inference Protocol's route
        assert names["inference"] >= {infer, "decode and validate", "compute"}
        if deployment == "hybrid":
            assert names["hybrid"] >= stages | {"log commit", "encode", "decode", "POST"}
            continue
        assert names["gateway"] >= stages | {"encode", "decode", "POST"}
        assert names["features"] >= {"POST /v1/features", "decode and validate", "compute"}
        assert names["ingest"] >= {"POST /v1/ingest", "decode and validate", "log commit"}
