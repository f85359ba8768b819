"""Spans, metrics and logs of the security checks, through the SDK's in-memory exporters."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import Telemetry
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from redis.asyncio import Redis
from security_helpers import JSON, PASSWORD, VICTIM_EMAIL, call, login, make_middleware

ATTACKER = "198.51.100.23"
OWNER = "203.0.113.99"
IPV6_BOT = "2001:db8:77::5"
TOKEN = "tok_5e3f9a1c7b"


async def test_spans_are_children_of_server_span(redis: Redis, telemetry: Telemetry) -> None:
    """The check spans are children of the ASGI server span."""
    app, _ = make_middleware(redis)
    traced = OpenTelemetryMiddleware(app)

    await call(traced)

    spans = telemetry.spans.get_finished_spans()
    server = [span for span in spans if span.kind == trace.SpanKind.SERVER]
    checks = [span for span in spans if span.name.startswith("security.")]
    assert len(server) == 1
    assert sorted(span.name for span in checks) == [
        "security.ip_reputation",
        "security.rate_limit",
    ]
    for span in checks:
        assert span.parent is not None
        assert span.parent.span_id == server[0].context.span_id


async def test_login_emits_brute_force_span(redis: Redis, telemetry: Telemetry) -> None:
    """A failed login emits the check spans and a brute-force record span."""
    app, _ = make_middleware(redis)

    await login(app, ATTACKER, VICTIM_EMAIL, "guess")

    names = sorted(span.name for span in telemetry.spans.get_finished_spans())
    assert names == [
        "security.brute_force",
        "security.brute_force",
        "security.ip_reputation",
        "security.rate_limit",
    ]


async def test_decisions_counted_by_check(redis: Redis, telemetry: Telemetry) -> None:
    """security.decisions counts blocks and bans per check, with the login route."""
    app, _ = make_middleware(redis, brute_force_threshold=2)
    before = _decision_counts(telemetry)

    for _ in range(3):
        await login(app, "198.51.100.77", VICTIM_EMAIL, "guess")

    counts = _decision_counts(telemetry)
    delta = {key: counts[key] - before.get(key, 0) for key in counts}
    assert delta[("brute_force", "ban", "/api/auth/login")] == 1
    assert delta[("ip_reputation", "ban", "/api/auth/login")] == 1
    assert delta[("rate_limit", "allow", "/api/auth/login")] == 2


async def test_check_duration_recorded(redis: Redis, telemetry: Telemetry) -> None:
    """security.check.duration records each Redis call, in seconds."""
    app, _ = make_middleware(redis)

    await call(app)

    points = telemetry.metric_points("security.check.duration")
    checks = [p for p in points if p.attributes["security.phase"] == "check"]
    assert checks
    assert checks[0].count >= 1
    assert checks[0].max < 5.0


async def test_attack_leaves_no_secrets(
    redis: Redis, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """A full attack leaves no password, email, token or raw address in telemetry or logs."""
    caplog.set_level(logging.DEBUG)
    app, _ = make_middleware(redis, rate_limit=3, brute_force_threshold=3, hmac_key=None)
    traced = OpenTelemetryMiddleware(app, exclude_spans=["receive", "send"])
    auth = [(b"authorization", f"Bearer {TOKEN}".encode()), *JSON]

    for i in range(6):
        await login(app, ATTACKER, VICTIM_EMAIL, f"guess{i}")
        await call(app, client=IPV6_BOT, headers=auth)
    await login(app, OWNER, VICTIM_EMAIL, PASSWORD)
    await call(traced, client=IPV6_BOT, headers=auth)

    # The upstream ASGI server span is left out: it records client.address itself.
    texts = list(_exported_texts(telemetry))
    logs = [r.getMessage() for r in caplog.records if r.name.startswith("otel_flux")]
    forbidden = [
        PASSWORD,
        "guess",
        VICTIM_EMAIL,
        "example.com",
        TOKEN,
        ATTACKER,
        OWNER,
        "198.51.100",
        "203.0.113",
        "2001:db8",
    ]
    assert len(texts) > 20
    assert logs, "the missing HMAC key is logged"
    for secret in forbidden:
        assert [text for text in texts + logs if secret in text] == [], secret


def _decision_counts(telemetry: Telemetry) -> dict[tuple[str, str, str], int]:
    counts: dict[tuple[str, str, str], int] = {}
    for point in telemetry.metric_points("security.decisions"):
        attributes = point.attributes
        key = (
            attributes["security.check"],
            attributes["security.decision"],
            attributes.get("http.route", ""),
        )
        counts[key] = point.value
    return counts


def _exported_texts(telemetry: Telemetry) -> Any:
    """Yield every security span, event and metric data point rendered as text."""
    for span in telemetry.spans.get_finished_spans():
        if span.name.startswith("security."):
            yield f"security span {span.name} {dict(span.attributes or {})} {span.status}"
            for event in span.events:
                yield f"security event {event.name} {dict(event.attributes or {})}"
    for name in ("security.decisions", "security.check.duration"):
        for point in telemetry.metric_points(name):
            yield f"security metric {name} {dict(point.attributes)}"
