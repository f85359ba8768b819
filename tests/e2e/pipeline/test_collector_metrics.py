"""Prometheus scrapes the Collector's own metrics and loads the pipeline alerts."""

from __future__ import annotations

import pytest

from otel_flux.alerts import pipeline as pipeline_alerts
from otel_flux.stack import traffic
from tests.e2e.pipeline.stackctl import PipelineStack, get_json_or_none, prometheus_query, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]

DATA_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def traffic_sent(pipeline: PipelineStack) -> None:
    # /health produces no telemetry, so the requests go to a traced route. This
    # stack keeps 10% of ordinary traces, and the exporter's counter appears only
    # once a span reaches Jaeger. With 5 requests the test failed in 1 of 5 runs;
    # the chance that none of 60 traces is kept is 0.9**60, about 0.2%.
    traffic.send_burst(pipeline.service, [("GET", "/api/files", None)] * 60)


@pytest.mark.parametrize(
    "metric",
    [
        "otelcol_receiver_accepted_spans",
        "otelcol_receiver_refused_spans",
        "otelcol_exporter_sent_spans",
        "otelcol_exporter_queue_size",
        "otelcol_exporter_queue_capacity",
        "otelcol_processor_tail_sampling_count_traces_sampled",
    ],
)
def test_collector_metric_scraped(pipeline: PipelineStack, traffic_sent: None, metric: str) -> None:
    promql = f'{metric}{{job="otelcol-flux"}}'
    result = wait_for(lambda: prometheus_query(pipeline, promql), DATA_TIMEOUT)

    assert result, f"Prometheus has no series for {promql}"


@pytest.mark.parametrize("alert", [pipeline_alerts.DROPPED, pipeline_alerts.QUEUE_FILLING])
def test_pipeline_alert_loaded(pipeline: PipelineStack, alert: str) -> None:
    body = get_json_or_none(f"{pipeline.prometheus}/api/v1/rules?type=alert")
    assert body is not None, "Prometheus rules API did not return JSON"
    names = {rule["name"] for group in body["data"]["groups"] for rule in group["rules"]}

    assert alert in names
