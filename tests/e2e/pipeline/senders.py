"""Real OpenTelemetry SDK providers that send straight to a stack's Collector over OTLP/gRPC."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.util.types import Attributes

# Large enough for the biggest burst in these tests, so the SDK drops no span.
MAX_QUEUE_SPANS = 16_384


def tracer_provider(endpoint: str, resource: Attributes) -> TracerProvider:
    """A provider that batches spans to endpoint; call shutdown() to flush them."""
    provider = TracerProvider(resource=Resource.create(resource))
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter,
            max_queue_size=MAX_QUEUE_SPANS,
            max_export_batch_size=512,
            schedule_delay_millis=200,
        )
    )
    return provider


def meter_provider(endpoint: str, resource: Attributes) -> MeterProvider:
    """A provider that exports only on shutdown() (the interval is one hour)."""
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    return MeterProvider(resource=Resource.create(resource), metric_readers=[reader])
