"""The hop tax's split: each part of an answer's latency from its trace's spans and the edge's
timers, the parts adding up to the latency, and the client's floor taken out of the rest."""

from __future__ import annotations

import pytest

from lab.bench import hops
from lab.bench.hops import Answer, round_means, split
from lab.load.otlp import CLIENT, SERVER, traces_by_request

INTERNAL = 1  # OpenTelemetry's SpanKind.INTERNAL, the workflow's own spans


def span(service, name, ms, id_, parent="", kind=INTERNAL, request_id=None) -> dict:
    attributes = {"churnlab.request_id": request_id} if request_id else {}
    return {
        "service": service, "name": name, "kind": kind, "trace": "t1", "id": id_,
        "parent": parent, "ms": ms, "attributes": attributes,
    }  # fmt: skip


def answer(latency_ms: float, late_ms: float, upstream_ms: float) -> Answer:
    timings = {"app": 1.0, "edge-queue": 0.0, "edge-connect": 0.0, "edge-upstream": upstream_ms}
    return Answer("r1", latency_ms, late_ms, 200, timings)


MONOLITH = [
    span("monolith", "POST /v1/predict", 4.0, "a", kind=SERVER, request_id="r1"),
    span("monolith", "decode and validate", 0.1, "b", "a"),
    span("monolith", "features", 0.3, "c", "a"),
    span("monolith", "inference", 0.4, "d", "a"),
    span("monolith", "ingest", 1.0, "e", "a"),
    span("monolith", "log commit", 0.8, "f", "e"),
]
# The gateway's features stage: encode, the call (the features service's span inside), decode.
MICRO = [
    span("gateway", "POST /v1/predict", 10.0, "a", kind=SERVER, request_id="r1"),
    span("gateway", "decode and validate", 0.1, "b", "a"),
    span("gateway", "features", 3.0, "c", "a"),
    span("gateway", "encode", 0.05, "d", "c"),
    span("gateway", "POST", 2.5, "e", "c", kind=CLIENT),
    span("features", "POST /v1/features", 1.5, "f", "e", kind=SERVER),
    span("features", "decode and validate", 0.2, "g", "f"),
    span("features", "compute", 0.3, "h", "f"),
    span("gateway", "decode", 0.1, "i", "c"),
]


def test_the_monoliths_parts_are_its_stages_the_edge_and_what_lies_outside_them():
    parts = split(MONOLITH, answer(latency_ms=7.0, late_ms=0.5, upstream_ms=5.0))
    assert parts == pytest.approx(
        {
            hops.LATE: 0.5,
            hops.EDGE: 0.0,
            hops.EDGE_TO_APP: 1.0,  # the edge waited 5 ms, the app's span was 4
            hops.UNSEEN: 1.5,  # 7 ms, less 0.5 late, less the edge's 5
            hops.PARSE: 0.1,
            hops.COMPUTE: 0.7,
            hops.ACCEPT: 0.2,  # ingest's own time, beside the log's commit
            hops.COMMIT: 0.8,
            hops.RESPOND: 2.2,  # the app's span less its stages
        }
    )
    assert not set(parts) & set(hops.HOPS)
    assert sum(parts.values()) == pytest.approx(7.0)


def test_a_hop_is_the_clients_bookkeeping_encode_the_wire_the_stages_server_and_decode():
    parts = split(MICRO, answer(latency_ms=12.0, late_ms=0.0, upstream_ms=11.0))
    assert parts[hops.HOP_CLIENT] == pytest.approx(3.0 - 0.05 - 2.5 - 0.1)
    assert parts[hops.HOP_ENCODE] == pytest.approx(0.05)
    assert parts[hops.HOP_WIRE] == pytest.approx(2.5 - 1.5)  # the call beyond the stage's span
    assert parts[hops.HOP_SERVE] == pytest.approx(1.5 - 0.2 - 0.3)
    assert parts[hops.HOP_DECODE] == pytest.approx(0.2)  # the stage's, not the public parse
    assert parts[hops.PARSE] == pytest.approx(0.1)
    assert parts[hops.COMPUTE] == pytest.approx(0.3)
    assert parts[hops.HOP_ANSWER] == pytest.approx(0.1)
    assert sum(parts.values()) == pytest.approx(12.0)


def test_the_clients_floor_comes_out_of_what_no_timer_saw():
    """The floor is the null endpoint's latency less its lateness, the same calls' mean."""
    floor = [Answer("n1", 1.2, 0.2, 200, {}), Answer("n2", 1.0, 0.0, 200, {})]
    means = round_means(
        [answer(latency_ms=7.0, late_ms=0.5, upstream_ms=5.0)], floor, traces_by_request(MONOLITH)
    )
    assert means["parts_ms"][hops.FLOOR] == pytest.approx(1.0)
    assert means["parts_ms"][hops.UNSEEN] == pytest.approx(0.5)
    assert sum(means["parts_ms"].values()) == pytest.approx(means["latency_ms"])


def test_only_answered_and_fully_traced_predictions_are_split():
    unanswered = Answer("r2", 9.0, 0.0, 503, {})
    untraced = Answer("r3", 9.0, 0.0, 200, {})
    traced = answer(latency_ms=7.0, late_ms=0.5, upstream_ms=5.0)
    floor = [Answer("n1", 1.0, 0.0, 200, {})]
    means = round_means([unanswered, untraced, traced], floor, traces_by_request(MONOLITH))
    assert (means["sent"], means["split"], means["latency_ms"]) == (3, 1, 7.0)


def test_a_trace_is_complete_when_every_service_of_the_wiring_sent_its_spans():
    assert hops.complete(MICRO, {"gateway", "features"})
    assert not hops.complete(MICRO, {"gateway", "features", "ingest"})


def test_a_trace_cut_by_an_export_is_not_whole_until_its_parent_arrives():
    """A stage's spans without the server span they hang from: two roots, not split yet."""
    cut = [span for span in MICRO if span["name"] != "POST /v1/features"]
    assert not hops.complete(cut, {"gateway"})
    assert not hops.complete(MICRO[1:], {"gateway", "features"})  # the gateway's root missing


def test_an_answer_without_the_edges_timers_or_refused_is_not_split():
    assert hops.splittable(answer(latency_ms=7.0, late_ms=0.5, upstream_ms=5.0))
    assert not hops.splittable(Answer("r1", 7.0, 0.0, 200, {"app": 1.0}))  # the edge answered
    assert not hops.splittable(Answer("r1", 7.0, 0.0, 0, {}))  # the call failed


def test_a_span_sent_twice_is_read_once():
    """An exporter that retries a batch the receiver had taken sends its spans again."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from lab.load.otlp import Received

    export = ExportTraceServiceRequest()
    spans = export.resource_spans.add().scope_spans.add()
    one = spans.spans.add(name="compute", trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    one.start_time_unix_nano, one.end_time_unix_nano = 1_000_000, 3_000_000
    received = Received("http://127.0.0.1:1/v1/traces")
    received.add(export.SerializeToString())
    received.add(export.SerializeToString())
    assert [(s["name"], s["ms"]) for s in received.spans] == [("compute", 2.0)]


def test_rounds_that_split_nothing_are_left_out_of_the_figures():
    traced = answer(latency_ms=7.0, late_ms=0.5, upstream_ms=5.0)
    runs = hops.Runs(
        traced=[[traced], [Answer("r9", 9.0, 0.0, 0, {})]],
        floor=[[Answer("n1", 1.0, 0.0, 200, {})]] * 2,
        untraced=[[Answer("u1", 5.0, 0.0, 200, {})]] * 2,
        points=[(20.0, {"monolith": 0.1}), (0.0, {"monolith": 0.01})] * 2,
    )
    summary = hops.summarise(runs, traces_by_request(MONOLITH))
    assert (summary["sent"], summary["split"], summary["rounds"]) == (2, 1, 1)
    assert summary["latency_ms"]["mean"] == 7.0
    assert summary["cpu_ms_per_prediction"]["monolith"]["ms_per_record"] == pytest.approx(4.5)
