"""Data sent over OTLP reaches Jaeger and Prometheus through otelcol-flux.

The spans and metrics come from the real OpenTelemetry SDK and OTLP/gRPC
exporter, sent straight to the Collector of a stack started on free ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from otel_flux.stack import config, health, runner
from otel_flux.stack.config import StackConfig

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SERVICE = "flux-e2e"
ROUTE = "/e2e/items/{item_id}"
ROOT = Path(__file__).resolve().parents[3]
# Bound on each wait for data; Prometheus scrapes every 5 s.
DATA_TIMEOUT = 60.0


def _resource() -> Resource:
    return Resource.create({"service.name": SERVICE, "service.instance.id": "e2e-1"})


def _jaeger(stack: StackConfig) -> str:
    return f"http://127.0.0.1:{stack.port(config.JAEGER_QUERY_PORT)}"


def _prometheus(stack: StackConfig) -> str:
    return f"http://127.0.0.1:{stack.port(config.PROMETHEUS_PORT)}"


def _collector(stack: StackConfig) -> str:
    return f"http://127.0.0.1:{stack.port(config.COLLECTOR_GRPC_PORT)}"


@pytest.fixture(scope="module")
def sent_span(stack: StackConfig) -> str:
    """Send one server span with secret-looking attributes and return its trace id."""
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=_collector(stack), insecure=True))
    )
    tracer = provider.get_tracer("tests.e2e.stack")
    with tracer.start_as_current_span(f"GET {ROUTE}", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.route", ROUTE)
        span.set_attribute("http.request.method", "GET")
        span.set_attribute("http.response.status_code", 200)
        span.set_attribute("user.email", "alice@example.com")
        span.set_attribute("http.request.header.authorization", "Bearer abcdefghijklmnop")
        span.set_attribute("flux.note", "plain text")
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


@pytest.fixture(scope="module")
def sent_metric(stack: StackConfig) -> None:
    """Record one request duration and export it once."""
    exporter = OTLPMetricExporter(endpoint=_collector(stack), insecure=True)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=_resource(), metric_readers=[reader])
    histogram = provider.get_meter("tests.e2e.stack").create_histogram(
        "http.server.request.duration", unit="s"
    )
    histogram.record(
        0.042,
        {"http.route": ROUTE, "http.request.method": "GET", "http.response.status_code": 200},
    )
    provider.shutdown()


def _find_trace(stack: StackConfig, trace_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = None

    def arrived() -> bool:
        nonlocal found
        try:
            body = health.get_json(f"{_jaeger(stack)}/api/traces/{trace_id}")
        except (OSError, ValueError):
            return False
        found = body["data"][0] if body.get("data") else None
        return found is not None

    health.wait_until(arrived, DATA_TIMEOUT, interval=0.5)
    return found


def _span_tags(trace: dict[str, Any]) -> dict[str, Any]:
    span = trace["spans"][0]
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def _query_prometheus(stack: StackConfig, promql: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []

    def arrived() -> bool:
        nonlocal result
        query = urllib.parse.urlencode({"query": promql})
        try:
            body = health.get_json(f"{_prometheus(stack)}/api/v1/query?{query}")
        except (OSError, ValueError):
            return False
        result = body["data"]["result"]
        return bool(result)

    health.wait_until(arrived, DATA_TIMEOUT, interval=1.0)
    return result


def test_span_reaches_jaeger(stack: StackConfig, sent_span: str) -> None:
    trace = _find_trace(stack, sent_span)

    assert trace is not None, f"trace {sent_span} not found in Jaeger"
    assert trace["spans"][0]["operationName"] == f"GET {ROUTE}"
    assert trace["processes"][trace["spans"][0]["processID"]]["serviceName"] == SERVICE


def test_redaction_masks_email_and_bearer(stack: StackConfig, sent_span: str) -> None:
    trace = _find_trace(stack, sent_span)
    assert trace is not None, f"trace {sent_span} not found in Jaeger"

    tags = _span_tags(trace)

    assert tags["user.email"] == "****"
    assert tags["http.request.header.authorization"] == "****"
    assert tags["flux.note"] == "plain text"
    assert tags["http.route"] == ROUTE


def test_metric_reaches_prometheus_with_labels(stack: StackConfig, sent_metric: None) -> None:
    promql = f'http_server_request_duration_seconds_bucket{{job="{SERVICE}",http_route="{ROUTE}"}}'

    result = _query_prometheus(stack, promql)

    assert result, f"no series for {promql}"
    labels = result[0]["metric"]
    assert labels["job"] == SERVICE
    assert labels["instance"] == "e2e-1"
    assert labels["http_request_method"] == "GET"
    assert labels["http_response_status_code"] == "200"
    assert labels["deployment_environment_name"] == "local"


def test_span_metrics_reach_prometheus(stack: StackConfig, sent_span: str) -> None:
    promql = f'traces_span_metrics_calls_total{{service_name="{SERVICE}"}}'

    result = _query_prometheus(stack, promql)

    assert result, f"no series for {promql}"
    assert result[0]["metric"]["span_name"] == f"GET {ROUTE}"
    assert result[0]["metric"]["http_route"] == ROUTE


def test_prometheus_scrapes_collector_itself(stack: StackConfig) -> None:
    result = _query_prometheus(stack, 'up{job="otelcol-flux"} == 1')

    assert result, "the Collector's own metrics endpoint is not up in Prometheus"


def test_second_up_reuses_running_processes(stack: StackConfig) -> None:
    lines: list[str] = []

    runner.up(stack, built={}, say=lines.append)

    assert len(lines) == 5
    assert all(": reusing pid " in line for line in lines), lines


def test_status_command_reports_all_healthy(stack_environment: dict[str, str]) -> None:
    environ = dict(os.environ, **stack_environment, PYTHONPATH=str(ROOT))

    result = subprocess.run(
        [sys.executable, "-m", "otel_flux.cli", "stack", "status"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("healthy") == 5
