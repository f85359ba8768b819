"""Flush and shut down the SDK providers within a bounded time."""

from __future__ import annotations

import logging
import threading

from opentelemetry import metrics, trace

from otel_flux.settings import define, float_parser

_logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = define(
    "FLUX_SHUTDOWN_TIMEOUT_S",
    5.0,
    float_parser(minimum=0.1, maximum=120),
    accepted="a number of seconds from 0.1 to 120",
    doc=(
        "Time the service waits at shutdown for buffered spans and metrics to be "
        "exported; what is still buffered after it is lost, and a warning says so."
    ),
    group="core",
)


def shutdown_providers(timeout_s: float | None = None) -> bool:
    """Shut down the global tracer and meter providers; return False on timeout.

    The work runs in a daemon thread so an unreachable Collector cannot hold the
    process past the timeout.
    """
    timeout = SHUTDOWN_TIMEOUT_S.read() if timeout_s is None else timeout_s

    def run() -> None:
        for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
            shutdown = getattr(provider, "shutdown", None)
            if shutdown is None:
                continue
            try:
                shutdown()
            except Exception:
                _logger.exception("shutting down %s failed", type(provider).__name__)

    worker = threading.Thread(target=run, name="otel-flux-shutdown", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _logger.warning(
            "telemetry export did not finish within FLUX_SHUTDOWN_TIMEOUT_S=%s s; "
            "spans and metrics still buffered are lost",
            timeout,
        )
        return False
    return True
