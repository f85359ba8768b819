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
    # The span export thread needs the GIL to encode and send each batch, and
    # it gets the GIL back from a busy event loop only every few milliseconds.
    # At saturation (3,500 to 3,900 req/s on one AMD EPYC core) the SDK's
    # 2,048-span queue overflowed: 0.9% of the spans were dropped in 20 s with
    # 64 spans per batch, and 0.4% in 300 s with 256. Bigger batches need
    # fewer GIL hand-overs per span, and a deeper queue rides out the slow
    # moments (tests/benchmarks/harness.py --soak, 2026-12-04).
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512",
    "OTEL_BSP_MAX_QUEUE_SIZE": "8192",
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
