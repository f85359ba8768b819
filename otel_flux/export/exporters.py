"""The SDK's OTLP span exporters with otel_flux's encoder in place of the SDK's.

Everything else stays the SDK's: endpoint, headers, TLS, compression, timeout,
retries with backoff, channel re-creation after UNAVAILABLE, and the exporter's
own metrics. Only the step that turns spans into request bytes changes, so every
``OTEL_EXPORTER_OTLP_*`` variable keeps its meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as SdkGrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as SdkHttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

from otel_flux.export.spans import SpanEncoder

_logger = logging.getLogger(__name__)

_EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _already_serialized(request: bytes) -> bytes:
    return request


class _SerializedTraceServiceStub:
    """A TraceService client whose Export takes the request as serialized bytes."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.Export = channel.unary_unary(
            _EXPORT_METHOD,
            request_serializer=_already_serialized,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )


class _LossLog:
    """Logs every failed span export with the number of spans lost so far.

    The SDK's gRPC exporter logs a failed trace export through a logger that
    drops a message equal to the previous one, so a failed metric export in
    between hides it. Nothing in the SDK counts the lost spans either.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.lost_spans = 0

    def record(self, result: SpanExportResult, spans: int) -> SpanExportResult:
        if result is SpanExportResult.FAILURE:
            self.lost_spans += spans
            _logger.warning(
                "span export to %s failed: %d spans dropped, %d since start; export "
                "resumes when the Collector accepts spans again",
                self.endpoint,
                spans,
                self.lost_spans,
            )
        return result


class FluxGrpcSpanExporter(SdkGrpcSpanExporter):
    """OTLP/gRPC span exporter that encodes with :class:`SpanEncoder`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._encoder = SpanEncoder()
        super().__init__(*args, **kwargs)
        self.losses = _LossLog(str(self._endpoint))
        # The SDK builds the client from ``_stub`` here and again whenever it
        # re-creates the channel after an UNAVAILABLE error.
        self._stub = _SerializedTraceServiceStub
        self._client = _SerializedTraceServiceStub(self._channel)  # type: ignore[assignment]

    def _translate_data(self, data: Sequence[ReadableSpan]) -> Any:
        return self._encoder.encode(data)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.losses.record(super().export(spans), len(spans))


class FluxHttpSpanExporter(SdkHttpSpanExporter):
    """OTLP/HTTP (protobuf) span exporter that encodes with :class:`SpanEncoder`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._encoder = SpanEncoder()
        super().__init__(*args, **kwargs)
        self.losses = _LossLog(str(self._endpoint))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.losses.record(self._export_encoded(spans), len(spans))

    def _export_encoded(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            # The SDK logs the misuse and fails the call.
            return super().export(spans)
        with self._metrics.export_operation(len(spans)) as result:
            serialized = self._encoder.encode(spans)
            if _is_request_too_large(serialized, self._max_request_size):
                _logger.warning(
                    "dropping a batch of %d spans: %d bytes is above the exporter's "
                    "max_request_size of %d bytes",
                    len(spans),
                    len(serialized),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"span batch of {len(serialized)} bytes exceeds max_request_size "
                    f"{self._max_request_size}"
                )
                return SpanExportResult.FAILURE
            sent = self._client.export(serialized)
            if not sent.success:
                result.error = sent.error
                if sent.status_code is not None:
                    result.error_attrs = {HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


# The SDK exporters that the configurator replaces, by the class the
# ``opentelemetry_traces_exporter`` entry point resolved to.
REPLACEMENTS: dict[type[SpanExporter], type[SpanExporter]] = {
    SdkGrpcSpanExporter: FluxGrpcSpanExporter,
    SdkHttpSpanExporter: FluxHttpSpanExporter,
}
