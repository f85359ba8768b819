"""Secrets in span, resource and metric attributes are masked by the Collector.

The SDK in this test sends the values unmasked, straight to the Collector over
OTLP, so the Collector's redaction is the only thing that can mask them. The
span has an error status, so tail sampling keeps it whatever the ratio.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.e2e.pipeline.senders import meter_provider, tracer_provider
from tests.e2e.pipeline.stackctl import (
    PipelineStack,
    get_json_or_none,
    jaeger_trace,
    prometheus_query,
    wait_for,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SERVICE = "flux-redact"
DATA_TIMEOUT = 60.0
MASK = "****"

# Attribute key -> secret value. Keys are neutral where possible, so the value
# patterns, not only the key patterns, are exercised.
SPAN_SECRETS = {
    "user.email": "alice@example.com",
    "http.request.header.authorization": "Bearer abcdefghijklmnop",
    "flux.login.password": "hunter2-hunter2",
    "flux.client.api_key": "k-1234567890",
    "flux.session.token": "s3ss10n-t0k3n-value",
    "flux.query": "password=hunter22",
    "flux.cloud.key": "AKIAABCDEFGHIJKLMNOP",
}
RESOURCE_SECRETS = {
    "service.owner.email": "ops@example.com",
    "deployment.api_key": "ak-resource-000111",
}
METRIC_SECRETS = {
    "flux.user.email": "bob@example.com",
    "flux.session_id": "sess-abcdef123456",
}
PLAIN = {"flux.note": "plain text", "http.route": "/redact/{item}"}

ALL_SECRETS = [*SPAN_SECRETS.values(), *RESOURCE_SECRETS.values(), *METRIC_SECRETS.values()]


def _resource() -> dict[str, Any]:
    return {"service.name": SERVICE, "service.instance.id": "redact-1", **RESOURCE_SECRETS}


@pytest.fixture(scope="module")
def sent_trace_id(pipeline: PipelineStack) -> str:
    provider = tracer_provider(pipeline.collector_grpc, _resource())
    tracer = provider.get_tracer("tests.e2e.pipeline")
    with tracer.start_as_current_span("GET /redact/{item}", kind=SpanKind.SERVER) as span:
        span.set_attributes({**SPAN_SECRETS, **PLAIN})
        span.set_status(StatusCode.ERROR, "forced error so the trace is always kept")
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


@pytest.fixture(scope="module")
def sent_metric(pipeline: PipelineStack) -> None:
    provider = meter_provider(pipeline.collector_grpc, _resource())
    counter = provider.get_meter("tests.e2e.pipeline").create_counter("flux.redact.events")
    counter.add(1, {**METRIC_SECRETS, "flux.note": "plain text"})
    provider.shutdown()


@pytest.fixture(scope="module")
def trace(pipeline: PipelineStack, sent_trace_id: str) -> dict[str, Any]:
    found = wait_for(lambda: jaeger_trace(pipeline, sent_trace_id), DATA_TIMEOUT)
    assert found is not None, f"trace {sent_trace_id} did not reach Jaeger in {DATA_TIMEOUT} s"
    return dict(found)


def _tags(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in items}


@pytest.mark.parametrize("key", sorted(SPAN_SECRETS))
def test_span_secret_masked(trace: dict[str, Any], key: str) -> None:
    tags = _tags(trace["spans"][0]["tags"])

    assert tags[key] == MASK


@pytest.mark.parametrize("key", sorted(PLAIN))
def test_plain_span_attribute_unchanged(trace: dict[str, Any], key: str) -> None:
    tags = _tags(trace["spans"][0]["tags"])

    assert tags[key] == PLAIN[key]


@pytest.mark.parametrize("key", sorted(RESOURCE_SECRETS))
def test_resource_secret_masked(trace: dict[str, Any], key: str) -> None:
    process = trace["processes"][trace["spans"][0]["processID"]]
    tags = _tags(process["tags"])

    assert tags[key] == MASK


def test_resource_service_name_unchanged(trace: dict[str, Any]) -> None:
    process = trace["processes"][trace["spans"][0]["processID"]]

    assert process["serviceName"] == SERVICE


def _series(pipeline: PipelineStack) -> list[dict[str, str]]:
    match = urllib.parse.urlencode({"match[]": f'{{job="{SERVICE}"}}'})
    body = get_json_or_none(f"{pipeline.prometheus}/api/v1/series?{match}")
    if not body or body.get("status") != "success":
        return []
    series: list[dict[str, str]] = body["data"]
    return series


@pytest.fixture(scope="module")
def series(
    pipeline: PipelineStack, sent_metric: None, trace: dict[str, Any]
) -> list[dict[str, str]]:
    """Every Prometheus series of the test service, once its counter and span metrics arrived."""

    def complete() -> list[dict[str, str]]:
        found = _series(pipeline)
        names = {labels["__name__"] for labels in found}
        wanted = {"flux_redact_events_total", "traces_span_metrics_calls_total"}
        return found if wanted <= names else []

    found = wait_for(complete, DATA_TIMEOUT, interval=1.0)
    assert found, f"the counter and span metrics of {SERVICE} did not reach Prometheus"
    return list(found)


@pytest.mark.parametrize("secret", ALL_SECRETS)
def test_no_prometheus_label_contains_secret(series: list[dict[str, str]], secret: str) -> None:
    leaking = [labels for labels in series if any(secret in value for value in labels.values())]

    assert leaking == []


def test_metric_secret_label_masked(series: list[dict[str, str]]) -> None:
    counter = next(labels for labels in series if labels["__name__"] == "flux_redact_events_total")

    assert counter["flux_user_email"] == MASK


def test_metric_plain_label_unchanged(series: list[dict[str, str]]) -> None:
    counter = next(labels for labels in series if labels["__name__"] == "flux_redact_events_total")

    assert counter["flux_note"] == "plain text"


def test_metric_has_no_redaction_summary_label(series: list[dict[str, str]]) -> None:
    counter = next(labels for labels in series if labels["__name__"] == "flux_redact_events_total")

    assert not [key for key in counter if key.startswith("redaction_")]


def test_prometheus_reachable(pipeline: PipelineStack) -> None:
    """Guards the leak checks: they pass vacuously if Prometheus returns nothing."""
    assert prometheus_query(pipeline, "up") != []
