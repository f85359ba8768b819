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
    # The span export thread needs the GIL to encode each batch, and it gets the
    # GIL back from a busy event loop only every few milliseconds. With 64 spans
    # per batch it kept up with about 7,800 spans/s and dropped 0.9% of the
    # spans of a saturated sample service (3,940 req/s). With 256, a 40 s run at
    # saturation lost none, and the p99 at 492 req/s was 2.6 ms. The SDK's 512
    # gave a p99 of 4.8 ms at 495 req/s (tests/benchmarks/harness.py, one
    # AMD EPYC core, 2026-12-04).
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "256",
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
