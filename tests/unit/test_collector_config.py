"""The Collector config agrees with the Python side: bucket edges, thresholds, redaction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_flux.alerts.thresholds import Thresholds
from otel_flux.metrics.views import HTTP_SERVER_DURATION, histogram_edges

CONFIG = Path(__file__).resolve().parents[2] / "collector-config" / "otelcol-flux.yaml"


def _config_text() -> str:
    return CONFIG.read_text(encoding="utf-8")


def _span_metrics_buckets_ms() -> list[float]:
    match = re.search(r"^\s+buckets: \[(?P<edges>[^\]]*)\]", _config_text(), re.MULTILINE)
    assert match is not None, f"no span_metrics buckets list in {CONFIG}"
    edges = []
    for item in match.group("edges").split(","):
        value = item.strip()
        assert value.endswith("ms"), f"bucket {value!r} is not in milliseconds"
        edges.append(float(value.removesuffix("ms")))
    return edges


def _blocked_values() -> list[re.Pattern[str]]:
    text = _config_text()
    block = text[text.index("    blocked_values:") : text.index("    # Adds redaction.masked")]
    patterns = [line.strip()[2:] for line in block.splitlines() if line.strip().startswith("- ")]
    return [re.compile(pattern) for pattern in patterns]


def test_span_metrics_buckets_match_views() -> None:
    """Span-metric buckets are the SDK View's HTTP edges, so both histograms align."""
    view_edges_ms = [
        round(edge * 1000, 6) for edge in histogram_edges(environ={})[HTTP_SERVER_DURATION]
    ]

    assert _span_metrics_buckets_ms() == view_edges_ms


def test_span_metrics_buckets_contain_p99_threshold() -> None:
    threshold_ms = Thresholds().http_p99_s * 1000

    assert threshold_ms in _span_metrics_buckets_ms()


def test_latency_policy_uses_alert_threshold() -> None:
    assert "threshold_ms: ${env:FLUX_ALERT_HTTP_P99_MS:-1000}" in _config_text()


def test_traces_pipeline_samples_after_redaction() -> None:
    expected = "processors: [memory_limiter, redaction, resource, tail_sampling, batch]"

    assert expected in _config_text()


def test_span_metrics_pipeline_has_no_sampler() -> None:
    """RED metrics see every span: their pipeline has neither sampler."""
    text = _config_text()
    pipeline = text[text.index("    traces/spanmetrics:") : text.index("    metrics:\n")]

    assert "sampl" not in pipeline


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer abcdefghijklmnop",
        "alice@example.com",
        "password=hunter22",
        "session_id=4f9a8b7c6d",
        "AKIAABCDEFGHIJKLMNOP",
        "ghp_" + "a" * 36,
        "sk_live_" + "b" * 24,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ],
)
def test_blocked_values_match_secret(secret: str) -> None:
    """Go RE2 and Python agree on these patterns, so Python can check them quickly."""
    assert any(pattern.search(secret) for pattern in _blocked_values())


@pytest.mark.parametrize(
    "plain", ["GET /api/files/{file_id}", "flux-auth", "plain text", "200", "redis", "eu-west-1"]
)
def test_blocked_values_pass_plain_value(plain: str) -> None:
    assert not any(pattern.search(plain) for pattern in _blocked_values())
