"""Spans and metrics of the security checks.

The tracer and meter are fetched on first use through the global API, so they
come from whatever providers the distro installed. Until then the API's proxies
forward to the providers set later.

Attributes never hold a raw client address, identifier, password or token. A
client appears only as ``security.client.hash``: the first 16 hex digits of an
HMAC-SHA256 of its key (IPv4 address or IPv6 /64) under the process's
``FLUX_SECURITY_HMAC_KEY``. That links one client's spans without revealing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.util.types import AttributeValue

from otel_flux import tracing
from otel_flux.metrics import direct
from otel_flux.metrics.views import SECURITY_CHECK_DURATION, histogram_edges

CHECK_RATE_LIMIT = "rate_limit"
CHECK_REPUTATION = "ip_reputation"
CHECK_BRUTE_FORCE = "brute_force"

ALLOW = "allow"
BLOCK = "block"
BAN = "ban"
ERROR = "error"

_SPAN_NAMES = {
    CHECK_RATE_LIMIT: "security.rate_limit",
    CHECK_REPUTATION: "security.ip_reputation",
    CHECK_BRUTE_FORCE: "security.brute_force",
}


class SecurityTelemetry:
    """Lazily created tracer and instruments shared by every request."""

    def __init__(self) -> None:
        self._tracer: trace.Tracer | None = None
        self._decisions: direct.Adder | None = None
        self._duration: direct.Recorder | None = None

    def _instruments(self) -> tuple[trace.Tracer, direct.Adder, direct.Recorder]:
        if self._tracer is None or self._decisions is None or self._duration is None:
            self._tracer = tracing.get_tracer(__name__)
            self._decisions = direct.counter(
                None,
                __name__,
                None,
                "security.decisions",
                unit="{decision}",
                description="Decisions of the security checks.",
            )
            self._duration = direct.histogram(
                None,
                __name__,
                None,
                SECURITY_CHECK_DURATION,
                unit="s",
                description="Duration of the Redis call behind the security checks.",
                edges=histogram_edges()[SECURITY_CHECK_DURATION],
                attribute_keys=None,
            )
        return self._tracer, self._decisions, self._duration

    def record_check(
        self,
        check: str,
        decision: str,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, AttributeValue],
    ) -> None:
        """Emit the span of one check, covering the Redis call it shared with the others."""
        if not is_instrumentation_enabled():
            return
        tracer, _, _ = self._instruments()
        span_attributes: dict[str, Any] = {"security.decision": decision, **attributes}
        span = tracer.start_span(
            _SPAN_NAMES[check],
            kind=trace.SpanKind.INTERNAL,
            start_time=start_ns,
            attributes=span_attributes,
        )
        if decision == ERROR:
            span.set_status(trace.StatusCode.ERROR, "Redis call failed")
        span.end(end_time=end_ns)

    def count_decision(self, check: str, decision: str, route: str | None) -> None:
        self.count_decisions((check,), decision, route)

    def count_decisions(self, checks: Iterable[str], decision: str, route: str | None) -> None:
        """Count one ``decision`` for each of ``checks`` on one request."""
        if not is_instrumentation_enabled():
            return
        _, decisions, _ = self._instruments()
        for check in checks:
            attributes = {"security.check": check, "security.decision": decision}
            if route is not None:
                attributes["http.route"] = route
            decisions.add(1, attributes)

    def record_duration(self, phase: str, seconds: float, outcome: str) -> None:
        """Record the duration of one Redis call: ``phase`` is ``check`` or ``record``."""
        if not is_instrumentation_enabled():
            return
        _, _, duration = self._instruments()
        duration.record(seconds, {"security.phase": phase, "security.outcome": outcome})
