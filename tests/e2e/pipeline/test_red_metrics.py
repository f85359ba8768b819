"""RED metrics from spans reach Prometheus and Jaeger's Monitor API.

The sample service (otel_flux.demo:app under opentelemetry-instrument) gets
several bursts of real requests. The Collector's span_metrics connector turns
every span into calls and duration series before sampling, Prometheus scrapes
them, and Jaeger's metrics API reads them back from Prometheus.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from typing import Any

import pytest

from otel_flux.stack import traffic
from otel_flux.stack.components import SERVICE_NAME
from tests.e2e.pipeline.stackctl import (
    PipelineStack,
    get_json_or_none,
    prometheus_query,
    wait_for,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

OPERATIONS = ("POST /api/auth/login", "GET /api/files")
BURSTS = 3
# Longer than the 5 s scrape interval, so each burst raises the counters
# between two scrapes and rate() has an increase to work with.
BURST_GAP_S = 6.0
DATA_TIMEOUT = 60.0


def _requests() -> list[traffic.Request]:
    """Successful logins and file reads only, few enough that no security check blocks them.

    A blocked request never reaches routing, so its span is named by the method
    alone and would not count toward the operations checked here.
    """
    login = next(
        request for request in traffic.burst_requests(1) if request[1] == "/api/auth/login"
    )
    requests = [login, login]
    for file_id in range(1, 5):
        requests += [("GET", "/api/files", None), ("GET", f"/api/files/{file_id}", None)]
    return requests


@pytest.fixture(scope="module")
def traffic_sent(pipeline: PipelineStack) -> None:
    for burst in range(BURSTS):
        if burst:
            time.sleep(BURST_GAP_S)
        statuses = traffic.send_burst(pipeline.service, _requests())
        assert set(statuses) == {200}, f"unexpected statuses: {statuses}"


def _monitor(pipeline: PipelineStack, kind: str, **extra: str) -> dict[str, list[float]]:
    """Return the values of one Jaeger metrics API series per operation."""
    params = {
        "service": SERVICE_NAME,
        "groupByOperation": "true",
        "lookback": "600000",
        "step": "5000",
        "ratePer": "60000",
        **extra,
    }
    body = get_json_or_none(
        f"{pipeline.jaeger}/api/metrics/{kind}?{urllib.parse.urlencode(params)}"
    )
    if not body:
        return {}
    values: dict[str, list[float]] = {}
    for metric in body.get("metrics", []):
        labels = {label["name"]: label["value"] for label in metric["labels"]}
        points = [_number(point["gaugeValue"]["doubleValue"]) for point in metric["metricPoints"]]
        values[labels.get("operation", "")] = [p for p in points if not math.isnan(p)]
    return values


def _number(value: Any) -> float:
    return float(value)


def _wait_monitor(pipeline: PipelineStack, kind: str, **extra: str) -> dict[str, list[float]]:
    def ready() -> dict[str, list[float]]:
        values = _monitor(pipeline, kind, **extra)
        return values if all(values.get(op) for op in OPERATIONS) else {}

    found = wait_for(ready, DATA_TIMEOUT, interval=2.0)
    return dict(found or _monitor(pipeline, kind, **extra))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_monitor_calls_positive(
    pipeline: PipelineStack, traffic_sent: None, operation: str
) -> None:
    calls = _wait_monitor(pipeline, "calls")

    assert max(calls.get(operation, [0.0])) > 0


@pytest.mark.parametrize("operation", OPERATIONS)
def test_monitor_latency_finite(
    pipeline: PipelineStack, traffic_sent: None, operation: str
) -> None:
    latencies = _wait_monitor(pipeline, "latencies", quantile="0.95")
    print(f"{operation} p95 (ms) from Jaeger's Monitor: {latencies.get(operation)}")

    assert latencies.get(operation), f"no finite latency for {operation}: {latencies}"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_monitor_errors_reported(
    pipeline: PipelineStack, traffic_sent: None, operation: str
) -> None:
    """The error-rate series exists per operation; the demo answers no 5xx, so it is 0."""
    errors = _wait_monitor(pipeline, "errors")

    assert errors.get(operation), f"no error-rate series for {operation}: {errors}"
    assert max(errors[operation]) == 0


def test_span_metrics_have_threshold_bucket(pipeline: PipelineStack, traffic_sent: None) -> None:
    promql = (
        f'traces_span_metrics_duration_milliseconds_bucket{{service_name="{SERVICE_NAME}",'
        f'span_name="GET /api/files",le="1000"}}'
    )
    result = wait_for(lambda: prometheus_query(pipeline, promql), DATA_TIMEOUT)

    assert result, f"no series for {promql}"


def test_span_metrics_labels(pipeline: PipelineStack, traffic_sent: None) -> None:
    promql = f'traces_span_metrics_calls_total{{service_name="{SERVICE_NAME}"}}'
    result = wait_for(lambda: prometheus_query(pipeline, promql), DATA_TIMEOUT)
    labels = set().union(*(series["metric"] for series in result)) if result else set()

    assert {"span_name", "span_kind", "status_code"} <= labels
