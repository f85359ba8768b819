"""The pipeline under faults: Jaeger, the Collector and Prometheus each stopped under traffic.

Runs against the real binaries on free loopback ports. Every process the stack
starts is stopped when the module ends, also when a test fails. Each outage is
driven once by a module fixture that returns what it measured, and the tests
check one figure each. Sampling is at 100 % here so every trace is expected.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.pipeline.load import RequestLoad, Sample, TraceLoad
from tests.e2e.pipeline.stackctl import (
    PipelineStack,
    jaeger_trace,
    metric_sum,
    prometheus_query,
    scrape,
    wait_for,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

FAULT_ENVIRON = {
    "FLUX_COLLECTOR_DECISION_WAIT": "5s",
    "FLUX_COLLECTOR_DECISION_WAIT_AFTER_ROOT": "1s",
    # The request load comes from one client address; keep the rate limit out of it.
    "FLUX_RATE_LIMIT_LIMIT": "1000000",
}
OUTAGE_S = 30.0
BASELINE_S = 30.0
REQUESTS_PER_S = 25.0
TRACES_PER_S = 20.0
# The stack's OTEL_METRIC_EXPORT_INTERVAL.
METRIC_EXPORT_INTERVAL_S = 5.0
DELIVERY_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineStack]:
    with PipelineStack.running(tmp_path_factory.mktemp("faults-run"), FAULT_ENVIRON) as stack:
        yield stack


def _sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))


def _p99(samples: list[Sample]) -> float:
    latencies = sorted(sample.latency_s for sample in samples)
    return latencies[math.ceil(0.99 * len(latencies)) - 1]


# Jaeger stopped


@dataclass(frozen=True, slots=True)
class JaegerOutage:
    sent_during: list[str]
    missing: list[str]
    failed_spans: float


@pytest.fixture(scope="module")
def jaeger_outage(faults: PipelineStack) -> JaegerOutage:
    load = TraceLoad(faults.collector_grpc, "flux-faults", TRACES_PER_S)
    load.start()
    try:
        time.sleep(3)
        # The outage starts once Jaeger has exited. Spans it accepted while
        # shutting down are lost with its in-memory storage, not by the pipeline.
        faults.stop("jaeger")
        outage_start = time.monotonic()
        _sleep_until(outage_start + OUTAGE_S)
        outage_end = time.monotonic()
        faults.up()
        time.sleep(3)
    finally:
        load.stop()
    returned = time.monotonic()

    sent_during = load.between(outage_start, outage_end)
    missing = list(sent_during)

    def delivered() -> bool:
        missing[:] = [trace_id for trace_id in missing if jaeger_trace(faults, trace_id) is None]
        return not missing

    wait_for(delivered, DELIVERY_TIMEOUT, interval=1.0)
    print(
        f"Jaeger outage: {len(sent_during)} traces sent in {OUTAGE_S:.0f} s, "
        f"{len(sent_during) - len(missing)} in Jaeger {time.monotonic() - returned:.1f} s "
        "after its return"
    )
    metrics = scrape(faults.collector_metrics)
    failed = metric_sum(metrics, "otelcol_exporter_send_failed_spans") + metric_sum(
        metrics, "otelcol_exporter_enqueue_failed_spans"
    )
    return JaegerOutage(sent_during, missing, failed)


def test_jaeger_outage_had_traffic(jaeger_outage: JaegerOutage) -> None:
    assert len(jaeger_outage.sent_during) >= TRACES_PER_S * OUTAGE_S * 0.9


def test_jaeger_outage_loses_nothing_uncounted(jaeger_outage: JaegerOutage) -> None:
    """Every trace of the outage reaches Jaeger, or its span is counted as failed."""
    assert len(jaeger_outage.missing) <= jaeger_outage.failed_spans


# Collector stopped


@dataclass
class RssSampler:
    """Samples a process's resident set size (VmRSS, KiB) every half second."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(0.5):
            status = Path(f"/proc/{self.pid}/status").read_text()
            line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
            self.samples.append((time.monotonic(), int(line.split()[1])))

    def stop(self) -> None:
        self._stop.set()

    def max_mib(self, start: float, end: float) -> float:
        return max(kib for at, kib in self.samples if start <= at < end) / 1024


@dataclass(frozen=True, slots=True)
class CollectorOutage:
    baseline: list[Sample]
    outage: list[Sample]
    after: list[Sample]
    baseline_rss_mib: float
    outage_rss_mib: float
    metrics_resumed_s: float | None
    spans_resumed_s: float | None
    service_log: str


def _resume_times(faults: PipelineStack, since: float) -> dict[str, float]:
    """Seconds from since until the restarted Collector accepted each kind of data."""
    names = ("otelcol_receiver_accepted_metric_points", "otelcol_receiver_accepted_spans")
    resumed: dict[str, float] = {}

    def all_resumed() -> bool:
        text = scrape(faults.collector_metrics)
        for name in names:
            if name not in resumed and metric_sum(text, name, {"receiver": "otlp"}) > 0:
                resumed[name] = time.monotonic() - since
        return len(resumed) == len(names)

    wait_for(all_resumed, 3 * METRIC_EXPORT_INTERVAL_S, interval=0.1)
    return resumed


@pytest.fixture(scope="module")
def collector_outage(faults: PipelineStack, jaeger_outage: JaegerOutage) -> CollectorOutage:
    load = RequestLoad(faults.service, REQUESTS_PER_S)
    rss = RssSampler(faults.pid("service"))
    rss_thread = threading.Thread(target=rss.run, daemon=True)
    load.start()
    rss_thread.start()
    try:
        # A short warm-up keeps first-request costs out of the baseline.
        time.sleep(2)
        baseline_start = time.monotonic()
        _sleep_until(baseline_start + BASELINE_S)
        outage_start = time.monotonic()
        faults.stop("collector")
        _sleep_until(outage_start + OUTAGE_S)
        outage_end = time.monotonic()
        faults.up()
        returned = time.monotonic()
        resumed = _resume_times(faults, returned)
        time.sleep(2)
    finally:
        load.stop()
        rss.stop()
        rss_thread.join(timeout=5)

    outcome = CollectorOutage(
        baseline=load.between(baseline_start, outage_start),
        outage=load.between(outage_start, outage_end),
        after=load.between(outage_end, time.monotonic()),
        baseline_rss_mib=rss.max_mib(baseline_start, outage_start),
        outage_rss_mib=rss.max_mib(outage_start, outage_end),
        metrics_resumed_s=resumed.get("otelcol_receiver_accepted_metric_points"),
        spans_resumed_s=resumed.get("otelcol_receiver_accepted_spans"),
        service_log=(faults.settings.run_dir / "service.log").read_text(errors="replace"),
    )
    print(
        f"Collector outage: p99 baseline {_p99(outcome.baseline) * 1000:.2f} ms "
        f"({len(outcome.baseline)} requests), during outage {_p99(outcome.outage) * 1000:.2f} ms "
        f"({len(outcome.outage)} requests); max RSS {outcome.baseline_rss_mib:.1f} MiB before, "
        f"{outcome.outage_rss_mib:.1f} MiB during; metrics resumed after "
        f"{outcome.metrics_resumed_s} s, spans after {outcome.spans_resumed_s} s"
    )
    return outcome


# p99 tolerance: 10 % of the baseline plus the baseline's own noise, at least
# 3 ms. The client, the service, the Collector and Jaeger share two cores here,
# so one scheduler delay of a few milliseconds moves the p99 of ~750 requests
# by more than 10 % of a baseline that is itself a few milliseconds: across
# four runs the baseline p99 alone ranged from 7 to 35 ms. The noise is the
# spread of the p99 over the three 10 s thirds of the baseline, measured in the
# same run with the same request mix.
P99_RELATIVE = 0.10
P99_MIN_NOISE_S = 0.003
# Bounded memory: the SDK's span queue (2048 spans) and metric state are fixed
# in size, so an outage may only add a small, fixed amount.
RSS_GROWTH_LIMIT_MIB = 30.0
# An export that started while the Collector was away gives up after the
# stack's 1 s OTLP timeout, and the metric is read by polling every 0.1 s.
RESUME_SLACK_S = 1.0


def _p99_limit(baseline: list[Sample]) -> float:
    third = len(baseline) // 3
    parts = [baseline[:third], baseline[third : 2 * third], baseline[2 * third :]]
    noise = max(_p99(part) for part in parts) - min(_p99(part) for part in parts)
    return _p99(baseline) * (1 + P99_RELATIVE) + max(P99_MIN_NOISE_S, noise)


def test_collector_outage_p99_within_tolerance(collector_outage: CollectorOutage) -> None:
    limit = _p99_limit(collector_outage.baseline)
    print(f"p99 during the Collector outage must be <= {limit * 1000:.2f} ms")

    assert _p99(collector_outage.outage) <= limit


def test_collector_outage_requests_all_succeed(collector_outage: CollectorOutage) -> None:
    samples = collector_outage.baseline + collector_outage.outage + collector_outage.after
    failed = [sample for sample in samples if sample.status != 200]

    assert failed == []


def test_collector_outage_no_asgi_exception(collector_outage: CollectorOutage) -> None:
    assert "Exception in ASGI application" not in collector_outage.service_log


def test_collector_outage_memory_bounded(collector_outage: CollectorOutage) -> None:
    growth = collector_outage.outage_rss_mib - collector_outage.baseline_rss_mib

    assert growth <= RSS_GROWTH_LIMIT_MIB


def test_collector_outage_metrics_resume(collector_outage: CollectorOutage) -> None:
    resumed = collector_outage.metrics_resumed_s

    assert resumed is not None
    assert resumed <= METRIC_EXPORT_INTERVAL_S + RESUME_SLACK_S


def test_collector_outage_spans_resume(collector_outage: CollectorOutage) -> None:
    resumed = collector_outage.spans_resumed_s

    assert resumed is not None
    assert resumed <= METRIC_EXPORT_INTERVAL_S + RESUME_SLACK_S


# Prometheus stopped


@dataclass(frozen=True, slots=True)
class PrometheusOutage:
    statuses: list[int]
    trace_arrived: bool
    exporter_served: bool
    failed_before: float
    failed_after: float
    scrape_resumed_s: float | None


def _last_scrape(faults: PipelineStack) -> float:
    result = prometheus_query(faults, 'timestamp(up{job="otelcol-flux-exporter"} == 1)')
    return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture(scope="module")
def prometheus_outage(faults: PipelineStack, collector_outage: CollectorOutage) -> PrometheusOutage:
    failed_metric = "otelcol_exporter_send_failed_spans"
    failed_before = metric_sum(scrape(faults.collector_metrics), failed_metric)
    faults.stop("prometheus")

    load = RequestLoad(faults.service, REQUESTS_PER_S)
    load.start()
    traces = TraceLoad(faults.collector_grpc, "flux-faults-prometheus", 2.0)
    traces.start()
    time.sleep(5)
    load.stop()
    traces.stop()
    trace_arrived = bool(wait_for(lambda: jaeger_trace(faults, traces.sent[-1][1]) is not None, 30))
    exporter_served = "traces_span_metrics_calls_total" in scrape(faults.collector_exporter)
    failed_after = metric_sum(scrape(faults.collector_metrics), failed_metric)

    restarted_at = time.time()
    faults.up()
    returned = time.monotonic()
    resumed = wait_for(lambda: _last_scrape(faults) > restarted_at, 30)
    return PrometheusOutage(
        statuses=[sample.status for sample in load.samples],
        trace_arrived=trace_arrived,
        exporter_served=exporter_served,
        failed_before=failed_before,
        failed_after=failed_after,
        scrape_resumed_s=time.monotonic() - returned if resumed else None,
    )


def test_prometheus_outage_requests_succeed(prometheus_outage: PrometheusOutage) -> None:
    assert set(prometheus_outage.statuses) == {200}


def test_prometheus_outage_traces_still_flow(prometheus_outage: PrometheusOutage) -> None:
    assert prometheus_outage.trace_arrived


def test_prometheus_outage_exporter_still_serves(prometheus_outage: PrometheusOutage) -> None:
    assert prometheus_outage.exporter_served


def test_prometheus_outage_no_failed_exports(prometheus_outage: PrometheusOutage) -> None:
    assert prometheus_outage.failed_after == prometheus_outage.failed_before


def test_prometheus_outage_scraping_resumes(prometheus_outage: PrometheusOutage) -> None:
    print(f"Prometheus scraped again {prometheus_outage.scrape_resumed_s} s after its return")

    assert prometheus_outage.scrape_resumed_s is not None
