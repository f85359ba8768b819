"""In-process alert evaluation, with the same decisions as the rendered Prometheus rules.

:func:`decide` is a pure function of one window's figures and the thresholds.
It mirrors the rules in :mod:`otel_flux.alerts.render` term by term:

* latency alerts fire when more than 1% of the window's observations are above
  the threshold. Because the threshold is a bucket edge, that is exactly when
  Prometheus's ``histogram_quantile(0.99, ...)`` is above it;
* the error-rate alert fires when the share of 5xx responses is above the threshold;
* memory and CPU alerts compare the process figures with their thresholds;
* the latency and error-rate alerts need at least ``min_requests_per_min``
  requests (or Redis operations) per minute in the window.

:class:`AlertEvaluator` keeps the state of each alert and, on every change,
writes a log record and a span with a ``firing`` or ``resolved`` event.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from opentelemetry import trace

from otel_flux.alerts import thresholds as names
from otel_flux.alerts.thresholds import ALERTS, Thresholds

_logger = logging.getLogger(__name__)

# Share of observations allowed above a p99 threshold.
P99_TAIL = 0.01

_UNITS = {alert.name: alert.unit for alert in ALERTS}


@dataclass(frozen=True, slots=True)
class AlertInputs:
    """The figures of one evaluation window."""

    window_s: float
    requests: int = 0
    failed_requests: int = 0
    requests_over_threshold: int = 0
    http_p99_ms: float | None = None
    redis_operations: int = 0
    redis_over_threshold: int = 0
    redis_p99_ms: float | None = None
    memory_rss_mb: float | None = None
    cpu_pct: float | None = None


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """Whether one alert fires, with the value it was decided on."""

    name: str
    firing: bool
    value: float | None
    threshold: float
    unit: str
    # False when the traffic guard kept the alert quiet or the figure is missing.
    evaluated: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": "firing" if self.firing else "ok",
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "evaluated": self.evaluated,
        }


def _per_minute(count: int, window_s: float) -> float:
    return count * 60.0 / window_s if window_s > 0 else 0.0


def _latency(
    name: str, count: int, over: int, p99_ms: float | None, guard_ok: bool, threshold: float
) -> AlertDecision:
    evaluated = guard_ok and count > 0
    firing = evaluated and over > P99_TAIL * count
    return AlertDecision(name, firing, p99_ms, threshold, _UNITS[name], evaluated)


def _gauge(name: str, value: float | None, threshold: float) -> AlertDecision:
    firing = value is not None and value > threshold
    return AlertDecision(name, firing, value, threshold, _UNITS[name], value is not None)


def decide(inputs: AlertInputs, thresholds: Thresholds) -> list[AlertDecision]:
    """Decide every alert for one window, in the order of ``ALERTS``."""
    minimum = thresholds.min_requests_per_min
    http_guard = _per_minute(inputs.requests, inputs.window_s) >= minimum
    redis_guard = _per_minute(inputs.redis_operations, inputs.window_s) >= minimum

    error_rate: float | None = None
    if inputs.requests > 0:
        error_rate = inputs.failed_requests / inputs.requests * 100.0
    error_evaluated = http_guard and error_rate is not None
    error_firing = (
        error_evaluated and error_rate is not None and error_rate > thresholds.error_rate_pct
    )

    return [
        _latency(
            names.HTTP_LATENCY,
            inputs.requests,
            inputs.requests_over_threshold,
            inputs.http_p99_ms,
            http_guard,
            thresholds.http_p99_ms,
        ),
        AlertDecision(
            names.ERROR_RATE,
            error_firing,
            error_rate,
            thresholds.error_rate_pct,
            _UNITS[names.ERROR_RATE],
            error_evaluated,
        ),
        _gauge(names.MEMORY, inputs.memory_rss_mb, thresholds.memory_mb),
        _gauge(names.CPU, inputs.cpu_pct, thresholds.cpu_pct),
        _latency(
            names.REDIS_LATENCY,
            inputs.redis_operations,
            inputs.redis_over_threshold,
            inputs.redis_p99_ms,
            redis_guard,
            thresholds.redis_p99_ms,
        ),
    ]


class AlertEvaluator:
    """The current state of every alert, updated once per monitor interval."""

    def __init__(
        self, thresholds: Thresholds, tracer_provider: trace.TracerProvider | None = None
    ) -> None:
        self.thresholds = thresholds
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._lock = threading.Lock()
        self._decisions: dict[str, AlertDecision] = {
            alert.name: AlertDecision(
                alert.name, False, None, thresholds.by_alert()[alert.name], alert.unit, False
            )
            for alert in ALERTS
        }

    def evaluate(self, inputs: AlertInputs) -> list[AlertDecision]:
        """Decide every alert, report each change and return the alerts that changed."""
        decisions = decide(inputs, self.thresholds)
        changed = []
        with self._lock:
            for decision in decisions:
                if decision.firing != self._decisions[decision.name].firing:
                    changed.append(decision)
                self._decisions[decision.name] = decision

        for decision in changed:
            self._report(decision)
        return changed

    def decisions(self) -> list[AlertDecision]:
        with self._lock:
            return list(self._decisions.values())

    def active(self) -> dict[str, int]:
        """Map each alert name to 1 while it fires and 0 otherwise."""
        with self._lock:
            return {name: int(d.firing) for name, d in self._decisions.items()}

    def _report(self, decision: AlertDecision) -> None:
        event = "firing" if decision.firing else "resolved"
        value = "n/a" if decision.value is None else f"{decision.value:.4g}"
        log = _logger.warning if decision.firing else _logger.info
        log(
            "alert %s %s: value %s %s, threshold %s %s",
            decision.name,
            event,
            value,
            decision.unit,
            f"{decision.threshold:g}",
            decision.unit,
        )

        attributes: dict[str, str | float] = {
            "flux.alert.name": decision.name,
            "flux.alert.threshold": decision.threshold,
            "flux.alert.unit": decision.unit,
        }
        if decision.value is not None:
            attributes["flux.alert.value"] = decision.value
        with self._tracer.start_as_current_span("flux.alert", attributes=attributes) as span:
            span.add_event(event, attributes=attributes)
