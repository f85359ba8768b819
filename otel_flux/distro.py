"""The otel_flux distro, loaded by ``opentelemetry-instrument`` before any instrumentation."""

from __future__ import annotations

import logging
import os
from importlib.metadata import EntryPoint
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

_logger = logging.getLogger(__name__)

# Defaults for standard variables; a value the user sets always wins.
_DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    # Upstream instrumentations that still run (other libraries) use the stable
    # HTTP and database conventions, like the otel_flux instrumentation.
    "OTEL_SEMCONV_STABILITY_OPT_IN": "http,database",
    # The BatchSpanProcessor thread encodes each batch to protobuf while it
    # holds the GIL, which stalls the event loop. At a steady 463 req/s on one
    # core, the sample service's p99 was 17 to 30 ms with the SDK's 512 spans
    # per batch and 4.1 to 4.3 ms with 64. Without span export it was 1.9 to
    # 3.2 ms (tests/benchmarks paced client, 2-core AMD EPYC, SDK 1.45.2).
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64",
}

# Upstream instrumentors replaced by otel_flux's own; loading both would trace
# each request and each Redis command twice.
REPLACED_INSTRUMENTORS = frozenset({"asgi", "starlette", "fastapi", "redis"})


class FluxDistro(BaseDistro):  # type: ignore[misc]
    """Sets otel_flux's defaults and keeps replaced upstream instrumentors out."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in _DEFAULTS.items():
            os.environ.setdefault(name, value)

    def load_instrumentor(self, entry_point: EntryPoint, **kwargs: Any) -> None:
        if entry_point.name in REPLACED_INSTRUMENTORS and _is_upstream(entry_point):
            _logger.debug(
                "skipping the upstream %s instrumentor: otel_flux instruments it", entry_point.name
            )
            return
        super().load_instrumentor(entry_point, **kwargs)


def _is_upstream(entry_point: EntryPoint) -> bool:
    return entry_point.value.startswith("opentelemetry.instrumentation.")
