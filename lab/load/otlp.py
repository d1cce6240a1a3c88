"""An OTLP/HTTP traces endpoint in this process: what the deployments' OpenTelemetry SDK sends
(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) kept as it came and decoded into plain spans when read, or
taken and dropped. The bench and the tests read traces from it without a tracing backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

CLIENT = Span.SpanKind.SPAN_KIND_CLIENT
SERVER = Span.SpanKind.SPAN_KIND_SERVER


class Received:
    """The endpoint's URL and what was sent to it. Exports are kept undecoded while they come
    (decoding would take the GIL from whatever this process is measuring meanwhile), and each
    span is read once however often an export was retried."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._bodies: list[bytes] = []
        self._decoded: dict[tuple[str, str], dict] = {}

    def add(self, body: bytes) -> None:
        with self._lock:
            self._bodies.append(body)

    @property
    def spans(self) -> list[dict]:
        """Every span received so far, one dict each."""
        with self._lock:
            for body in self._bodies:
                for span in _spans(ExportTraceServiceRequest.FromString(body)):
                    self._decoded[(span["trace"], span["id"])] = span
            self._bodies.clear()
            return list(self._decoded.values())


def _spans(export: ExportTraceServiceRequest) -> Iterator[dict]:
    for resource_spans in export.resource_spans:
        service = next(
            (
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            ),
            "",
        )
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "service": service,
                    "name": span.name,
                    "kind": span.kind,
                    "trace": span.trace_id.hex(),
                    "id": span.span_id.hex(),
                    "parent": span.parent_span_id.hex(),
                    "ms": (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
                    "attributes": {a.key: a.value.string_value for a in span.attributes},
                }


@contextmanager
def otlp_receiver(keep: bool = True) -> Iterator[Received]:
    """The endpoint, for as long as the block runs; `keep=False` answers without keeping, as a
    collector that keeps up would, so that measuring tracing's cost does not measure this."""
    received: Received

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if keep:
                received.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received = Received(f"http://127.0.0.1:{server.server_port}/v1/traces")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def traces_by_request(spans: list[dict]) -> dict[str, list[dict]]:
    """Each trace's spans, under the request id its server spans carry (churnlab.request_id):
    the id a client sent as X-Request-ID, or the one the edge gave."""
    by_trace: dict[str, list[dict]] = {}
    for span in spans:
        by_trace.setdefault(span["trace"], []).append(span)
    return {
        span["attributes"]["churnlab.request_id"]: by_trace[span["trace"]]
        for span in spans
        if "churnlab.request_id" in span["attributes"]
    }
