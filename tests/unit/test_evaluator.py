"""Alert evaluator: decisions at the thresholds, traffic guard, log and span on change."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flux.alerts.evaluator import AlertEvaluator, AlertInputs, decide
from otel_flux.alerts.thresholds import Thresholds


def _firing(inputs: AlertInputs, thresholds: Thresholds | None = None) -> set[str]:
    return {d.name for d in decide(inputs, thresholds or Thresholds()) if d.firing}


def test_quiet_window_fires_nothing() -> None:
    inputs = AlertInputs(window_s=60.0, requests=100, memory_rss_mb=10.0, cpu_pct=1.0)

    assert _firing(inputs) == set()


def test_latency_fires_above_one_percent() -> None:
    inputs = AlertInputs(window_s=60.0, requests=100, requests_over_threshold=2)

    assert _firing(inputs) == {"FluxHttpLatencyP99High"}


def test_latency_quiet_at_one_percent() -> None:
    inputs = AlertInputs(window_s=60.0, requests=100, requests_over_threshold=1)

    assert _firing(inputs) == set()


def test_guard_keeps_idle_service_quiet() -> None:
    inputs = AlertInputs(window_s=60.0, requests=5, failed_requests=5, requests_over_threshold=5)

    assert _firing(inputs) == set()


def test_guard_scales_with_window() -> None:
    """Twenty requests in two minutes is ten per minute, enough for the default guard."""
    inputs = AlertInputs(window_s=120.0, requests=20, failed_requests=20)

    assert _firing(inputs) == {"FluxErrorRateHigh"}


def test_cpu_threshold_from_settings() -> None:
    inputs = AlertInputs(window_s=60.0, cpu_pct=60.0)

    assert _firing(inputs, Thresholds(cpu_pct=50.0)) == {"FluxCpuHigh"}


def test_missing_figures_not_evaluated() -> None:
    decisions = decide(AlertInputs(window_s=60.0), Thresholds())

    assert not any(d.evaluated for d in decisions)


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_change_logged_and_traced(
    spans: tuple[TracerProvider, InMemorySpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    provider, exporter = spans
    evaluator = AlertEvaluator(Thresholds(), provider)
    with caplog.at_level(logging.INFO, logger="otel_flux.alerts.evaluator"):
        evaluator.evaluate(AlertInputs(window_s=60.0, memory_rss_mb=600.0))
        evaluator.evaluate(AlertInputs(window_s=60.0, memory_rss_mb=600.0))
        evaluator.evaluate(AlertInputs(window_s=60.0, memory_rss_mb=100.0))
    events = [span.events[0] for span in exporter.get_finished_spans()]

    assert [event.name for event in events] == ["firing", "resolved"]
    assert events[0].attributes is not None
    assert events[0].attributes["flux.alert.value"] == 600.0
    assert events[0].attributes["flux.alert.threshold"] == 500.0
    assert "FluxMemoryHigh firing: value 600 MiB, threshold 500 MiB" in caplog.text
    assert "FluxMemoryHigh resolved" in caplog.text


def test_active_reports_firing_alerts(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    evaluator = AlertEvaluator(Thresholds(), spans[0])
    evaluator.evaluate(AlertInputs(window_s=60.0, cpu_pct=95.0))

    assert evaluator.active()["FluxCpuHigh"] == 1
    assert evaluator.active()["FluxMemoryHigh"] == 0
