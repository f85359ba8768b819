"""Micro-benchmarks of the per-request steps, with pytest-benchmark.

The test suite runs each function once with timing off (``--benchmark-disable``
in pyproject.toml), so the checks below keep them working. To measure:

    pytest tests/benchmarks/test_micro.py --benchmark-enable

Each pair puts the SDK's way next to otel_flux's on the same input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from otel_flux.export.spans import SpanEncoder
from otel_flux.metrics import direct
from otel_flux.metrics.monitor import Monitor
from otel_flux.metrics.views import (
    HTTP_SERVER_ATTRIBUTES,
    HTTP_SERVER_DURATION,
    build_views,
    histogram_edges,
)
from otel_flux.security import SecurityConfig, SecurityMiddleware
from otel_flux.tracing import LeanTracer
from tests.support.servers import RedisServer

SERVER_ATTRIBUTES = {
    "http.request.method": "GET",
    "url.path": "/api/files/2",
    "url.scheme": "http",
    "network.protocol.version": "1.1",
    "server.address": "127.0.0.1",
    "server.port": 8000,
    "client.address": "127.0.0.0",
}
REDIS_ATTRIBUTES = {
    "db.system.name": "redis",
    "db.operation.name": "HGET",
    "db.query.text": "HGET ? ?",
    "server.address": "127.0.0.1",
    "server.port": 6379,
    "db.namespace": "0",
}
METRIC_ATTRIBUTES = {
    "http.request.method": "GET",
    "url.scheme": "http",
    "http.response.status_code": 200,
    "http.route": "/api/files/{file_id}",
}


class _Counting(SpanExporter):
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        self.names.update(span.name for span in spans)
        return SpanExportResult.SUCCESS


@pytest.fixture
def batching() -> Iterator[tuple[TracerProvider, _Counting]]:
    exporter = _Counting()
    provider = TracerProvider(resource=Resource.create({"service.name": "micro"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=256))
    yield provider, exporter
    provider.shutdown()


def _request_spans(tracer: trace.Tracer) -> None:
    """Start and end the two spans of one request: the server span and its Redis child."""
    server = tracer.start_span("GET", kind=SpanKind.SERVER, attributes=SERVER_ATTRIBUTES)
    token = context.attach(trace.set_span_in_context(server))
    child = tracer.start_span("HGET", kind=SpanKind.CLIENT, attributes=REDIS_ATTRIBUTES)
    child.end()
    context.detach(token)
    server.update_name("GET /api/files/{file_id}")
    server.set_attribute("http.route", "/api/files/{file_id}")
    server.set_attribute("http.response.status_code", 200)
    server.end()


@pytest.mark.parametrize("lean", [False, True], ids=["sdk", "lean"])
def test_request_spans(
    benchmark: Any, batching: tuple[TracerProvider, _Counting], lean: bool
) -> None:
    provider, exporter = batching
    tracer = provider.get_tracer("micro")
    if lean:
        tracer = LeanTracer(tracer)  # type: ignore[arg-type]

    benchmark(_request_spans, tracer)
    provider.force_flush()

    assert exporter.names == {"GET /api/files/{file_id}", "HGET"}


@pytest.fixture
def spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "micro"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = LeanTracer(provider.get_tracer("micro"))  # type: ignore[arg-type]
    for _ in range(128):
        _request_spans(tracer)
    return list(exporter.get_finished_spans())


def test_encode_256_spans_sdk(benchmark: Any, spans: list[ReadableSpan]) -> None:
    encoded = benchmark(lambda: sdk_encode(spans).SerializeToString())

    assert len(encoded) > 256 * 100


def test_encode_256_spans_flux(benchmark: Any, spans: list[ReadableSpan]) -> None:
    encoder = SpanEncoder()

    encoded = benchmark(encoder.encode, spans)

    assert encoded == sdk_encode(spans).SerializeToString()


def _data_points(reader: InMemoryMetricReader) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for scope in data.resource_metrics[0].scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    ]


@pytest.mark.parametrize("kind", ["sdk", "direct"])
def test_histogram_record(benchmark: Any, kind: str) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=build_views())
    edges = histogram_edges()[HTTP_SERVER_DURATION]
    if kind == "sdk":
        histogram: Any = provider.get_meter("micro").create_histogram(
            HTTP_SERVER_DURATION, unit="s", explicit_bucket_boundaries_advisory=list(edges)
        )
    else:
        histogram = direct.histogram(
            provider,
            "micro",
            "1",
            HTTP_SERVER_DURATION,
            unit="s",
            description="",
            edges=edges,
            attribute_keys=HTTP_SERVER_ATTRIBUTES,
        )

    benchmark(histogram.record, 0.0012, METRIC_ATTRIBUTES)
    points = _data_points(reader)

    assert len(points) == 1
    assert points[0].count >= 1


@pytest.mark.parametrize("kind", ["sdk", "direct"])
def test_counter_add(benchmark: Any, kind: str) -> None:
    """One security.decisions count, with the attributes the security middleware sets."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    if kind == "sdk":
        counter: Any = provider.get_meter("micro").create_counter("security.decisions")
    else:
        counter = direct.counter(provider, "micro", "1", "security.decisions", "{decision}", "")
    attributes = {
        "security.check": "rate_limit",
        "security.decision": "allow",
        "http.route": "/api/files/{file_id}",
    }

    benchmark(counter.add, 1, attributes)
    points = _data_points(reader)

    assert len(points) == 1
    assert points[0].value >= 1


def test_monitor_record_request(benchmark: Any) -> None:
    monitor = Monitor(interval_s=60.0)

    benchmark(monitor.record_request, "/api/files/{file_id}", "GET", 200, 0.0012)

    assert monitor.current()["requests"]["total"] >= 1


async def _tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.redis
def test_security_middleware_request(benchmark: Any, redis_server: RedisServer) -> None:
    """One GET through the security middleware: one EVALSHA round trip to a real Redis."""
    loop = asyncio.new_event_loop()
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    config = SecurityConfig(hmac_key=b"micro", rate_limit=10**9, redis_timeout_ms=2000.0)
    secured = SecurityMiddleware(_tiny_app, redis=redis, config=config)
    statuses: list[int] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/items",
        "headers": [],
        "client": ("192.0.2.10", 50000),
        "query_string": b"",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def request() -> None:
        loop.run_until_complete(secured(dict(scope), receive, send))

    try:
        benchmark(request)
    finally:
        loop.run_until_complete(redis.aclose())
        loop.close()

    assert set(statuses) == {200}
