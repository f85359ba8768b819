"""The OTLP span exporters with otel_flux's encoder, against real loopback servers."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as SdkGrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as SdkHttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_flux.configurator import _fast_encoding
from otel_flux.export.exporters import FluxGrpcSpanExporter, FluxHttpSpanExporter


def _spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "exporter-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("exporter-test", "1.0")
    for index in range(5):
        with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER) as span:
            span.set_attribute("index", index)
    return list(exporter.get_finished_spans())


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []

    def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
        self.requests.append(request)
        return ExportTraceServiceResponse()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[int, _TraceService]]:
    service = _TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, service
    server.stop(grace=None)


class _Bodies(BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(ExportTraceServiceResponse().SerializeToString())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[tuple[int, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Handler", (_Bodies,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], bodies
    server.shutdown()
    server.server_close()


def test_grpc_exporter_sends_sdk_message(
    grpc_receiver: tuple[int, _TraceService],
) -> None:
    port, service = grpc_receiver
    spans = _spans()
    exporter = FluxGrpcSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True)

    result = exporter.export(spans)
    exporter.shutdown()

    assert result is SpanExportResult.SUCCESS
    assert service.requests == [sdk_encode(spans)]


def test_http_exporter_sends_sdk_message(http_receiver: tuple[int, list[bytes]]) -> None:
    port, bodies = http_receiver
    spans = _spans()
    exporter = FluxHttpSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")

    result = exporter.export(spans)
    exporter.shutdown()

    assert result is SpanExportResult.SUCCESS
    assert [ExportTraceServiceRequest.FromString(body) for body in bodies] == [sdk_encode(spans)]


def test_http_exporter_rejects_oversized_batch(
    http_receiver: tuple[int, list[bytes]],
) -> None:
    port, bodies = http_receiver
    exporter = FluxHttpSpanExporter(
        endpoint=f"http://127.0.0.1:{port}/v1/traces", max_request_size=100
    )

    result = exporter.export(_spans())
    exporter.shutdown()

    assert result is SpanExportResult.FAILURE
    assert bodies == []


def test_configurator_swaps_sdk_exporters() -> None:
    swapped = (_fast_encoding(SdkGrpcSpanExporter), _fast_encoding(SdkHttpSpanExporter))

    assert swapped == (FluxGrpcSpanExporter, FluxHttpSpanExporter)


def test_configurator_keeps_other_exporters() -> None:
    assert _fast_encoding(InMemorySpanExporter) is InMemorySpanExporter


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_failed_export_is_logged_and_counted(
    protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    exporter: FluxGrpcSpanExporter | FluxHttpSpanExporter
    if protocol == "grpc":
        exporter = FluxGrpcSpanExporter(
            endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=1
        )
    else:
        exporter = FluxHttpSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=1)
    spans = _spans()

    with caplog.at_level(logging.WARNING, logger="otel_flux.export.exporters"):
        first = exporter.export(spans)
        second = exporter.export(spans)
    exporter.shutdown()

    assert (first, second) == (SpanExportResult.FAILURE, SpanExportResult.FAILURE)
    assert exporter.losses.lost_spans == 2 * len(spans)
    assert caplog.text.count("spans dropped") == 2
