"""SDK set-up for ``opentelemetry-instrument``.

The steps follow the SDK's own configurator, using its helpers, so every standard
``OTEL_*`` variable (exporters, protocol, endpoints, sampler, ID generator, batch
and export intervals, resource attributes) keeps its specified meaning. The SDK
gives no way to pass Views to the MeterProvider it builds, so this configurator
builds the MeterProvider itself with the otel_flux Views. When ``OTEL_CONFIG_FILE``
is set, the SDK's declarative configuration file takes over completely.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry.metrics import set_meter_provider
from opentelemetry.sdk._configuration import (
    _get_exporter_names,
    _get_id_generator,
    _get_sampler,
    _import_exporters,
    _import_id_generator,
    _import_sampler,
    _init_logging,
    _init_tracing,
    _OTelSDKConfigurator,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import SpanExporter

from otel_flux import otel_env
from otel_flux.export.exporters import REPLACEMENTS
from otel_flux.metrics.views import build_views
from otel_flux.resource import build_resource

_logger = logging.getLogger(__name__)


class FluxConfigurator(_OTelSDKConfigurator):
    """Configurator registered as ``otel_flux``."""

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get("OTEL_CONFIG_FILE", "").strip():
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        initialize(auto_instrumentation_version=kwargs.get("auto_instrumentation_version"))


def initialize(auto_instrumentation_version: str | None = None) -> MeterProvider:
    """Build and register the tracer, meter and logger providers from the environment."""
    otel_env.drop_invalid()
    resource = build_resource(auto_instrumentation_version)
    span_exporters, metric_exporters, log_exporters = _import_exporters(
        _get_exporter_names("traces"),
        _get_exporter_names("metrics"),
        _get_exporter_names("logs"),
    )
    _init_tracing(
        exporters={name: _fast_encoding(cls) for name, cls in span_exporters.items()},
        id_generator=_import_id_generator(_get_id_generator()),
        sampler=_import_sampler(_get_sampler()),
        resource=resource,
    )

    readers: list[MetricReader] = []
    for exporter_or_reader in metric_exporters.values():
        if issubclass(exporter_or_reader, MetricReader):
            readers.append(exporter_or_reader())
        else:
            readers.append(PeriodicExportingMetricReader(exporter_or_reader()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers, views=build_views())
    set_meter_provider(meter_provider)

    logging_enabled = (
        os.environ.get("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "false").strip().lower()
        == "true"
    )
    _init_logging(log_exporters, resource, logging_enabled)
    _install_monitor()
    return meter_provider


def _fast_encoding(exporter: type[SpanExporter]) -> type[SpanExporter]:
    """Swap the SDK's OTLP span exporters for the same ones with otel_flux's encoder."""
    return REPLACEMENTS.get(exporter, exporter)


def _install_monitor() -> None:
    try:
        from otel_flux.metrics import monitor
    except ImportError:
        return
    install = getattr(monitor, "install", None)
    if install is not None:
        install()
