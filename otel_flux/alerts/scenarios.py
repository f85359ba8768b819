"""Synthetic traffic below, at and above every threshold, for promtool and the evaluator.

Each :class:`Scenario` describes one minute of steady traffic. It becomes
Prometheus input series for ``promtool test rules`` (cumulative histogram
buckets over the same edges the Views use) and :class:`AlertInputs` for the
in-process evaluator. The tests check that both reach the firing decisions
the scenario states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from otel_flux.alerts import thresholds as names
from otel_flux.alerts.evaluator import AlertInputs
from otel_flux.alerts.render import (
    CPU_METRIC,
    DEFAULT_FOR,
    DEFAULT_WINDOW,
    HTTP_BUCKET,
    HTTP_COUNT,
    MEMORY_METRIC,
    REDIS_BUCKET,
    REDIS_COUNT,
    SEVERITY,
    alert_annotations,
)
from otel_flux.alerts.thresholds import ALERTS, Thresholds
from otel_flux.alerts.yamltext import dump
from otel_flux.metrics.sketch import QuantileSketch
from otel_flux.metrics.views import DB_CLIENT_DURATION, HTTP_SERVER_DURATION, histogram_edges

JOB = "flux-auth"
INSTANCE = "test-1"
MINUTES = 20
# The alerts are checked after the rate window and the "for" period have both passed.
EVAL_TIME = "15m"

# (duration in seconds, HTTP status, observations per minute)
Request = tuple[float, int, int]
# (duration in seconds, operations per minute)
Operation = tuple[float, int]


@dataclass(frozen=True)
class Scenario:
    """One minute of steady traffic and the alerts it must fire."""

    name: str
    expected: frozenset[str]
    requests: tuple[Request, ...] = ((0.01, 200, 100),)
    redis: tuple[Operation, ...] = ((0.001, 200),)
    rss_mb: float = 100.0
    cpu_pct: float = 10.0
    notes: str = field(default="", compare=False)


def scenarios() -> list[Scenario]:
    """Return the scenarios for the default thresholds."""
    none: frozenset[str] = frozenset()
    return [
        Scenario("quiet", none),
        Scenario("http p99 below", none, requests=((0.01, 200, 99), (0.9, 200, 1))),
        Scenario("http p99 at threshold", none, requests=((1.0, 200, 100),)),
        Scenario("http tail exactly 1%", none, requests=((0.01, 200, 99), (2.0, 200, 1))),
        Scenario(
            "http p99 above",
            frozenset({names.HTTP_LATENCY}),
            requests=((0.01, 200, 97), (1.2, 200, 3)),
        ),
        Scenario("http slow but idle", none, requests=((2.0, 200, 5),)),
        Scenario("errors below", none, requests=((0.01, 200, 199), (0.01, 500, 1))),
        Scenario("errors at threshold", none, requests=((0.01, 200, 99), (0.01, 500, 1))),
        Scenario(
            "errors above",
            frozenset({names.ERROR_RATE}),
            requests=((0.01, 200, 97), (0.01, 503, 3)),
        ),
        Scenario("errors but idle", none, requests=((0.01, 500, 5),)),
        Scenario("memory below", none, rss_mb=499.0),
        Scenario("memory at threshold", none, rss_mb=500.0),
        Scenario("memory above", frozenset({names.MEMORY}), rss_mb=501.0),
        Scenario("cpu below", none, cpu_pct=79.0),
        Scenario("cpu at threshold", none, cpu_pct=80.0),
        Scenario("cpu above", frozenset({names.CPU}), cpu_pct=81.0),
        Scenario("redis p99 below", none, redis=((0.001, 198), (0.04, 2))),
        Scenario("redis p99 at threshold", none, redis=((0.05, 200),)),
        Scenario(
            "redis p99 above",
            frozenset({names.REDIS_LATENCY}),
            redis=((0.001, 190), (0.2, 10)),
        ),
        Scenario("redis slow but idle", none, redis=((0.2, 5),)),
    ]


def alert_inputs(scenario: Scenario, thresholds: Thresholds) -> AlertInputs:
    """Turn one minute of the scenario into the in-process evaluator's input."""
    http = QuantileSketch()
    redis = QuantileSketch()
    for duration, _status, count in scenario.requests:
        for _ in range(count):
            http.add(duration)
    for duration, count in scenario.redis:
        for _ in range(count):
            redis.add(duration)

    def ms(value: float | None) -> float | None:
        return None if value is None else value * 1000.0

    return AlertInputs(
        window_s=60.0,
        requests=sum(count for _, _, count in scenario.requests),
        failed_requests=sum(count for _, status, count in scenario.requests if status >= 500),
        requests_over_threshold=sum(
            count for duration, _, count in scenario.requests if duration > thresholds.http_p99_s
        ),
        http_p99_ms=ms(http.quantile(0.99)),
        redis_operations=sum(count for _, count in scenario.redis),
        redis_over_threshold=sum(
            count for duration, count in scenario.redis if duration > thresholds.redis_p99_s
        ),
        redis_p99_ms=ms(redis.quantile(0.99)),
        memory_rss_mb=scenario.rss_mb * 1048576 / 1048576.0,
        cpu_pct=scenario.cpu_pct,
    )


def _counter(per_minute: float) -> str:
    return f"0+{per_minute!r}x{MINUTES}" if per_minute else f"0+0x{MINUTES}"


def _gauge(value: float) -> str:
    return f"{value!r}+0x{MINUTES}"


def _labels(**labels: str) -> str:
    text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return "{" + text + "}"


def _histogram(
    bucket: str,
    count: str,
    edges: tuple[float, ...],
    observations: list[tuple[float, int]],
    labels: dict[str, str],
) -> list[dict[str, str]]:
    series = []
    for edge in (*edges, float("inf")):
        cumulative = sum(n for duration, n in observations if duration <= edge)
        le = "+Inf" if edge == float("inf") else repr(edge)
        series.append({"series": bucket + _labels(**labels, le=le), "values": _counter(cumulative)})
    total = sum(n for _, n in observations)
    series.append({"series": count + _labels(**labels), "values": _counter(total)})
    return series


def input_series(scenario: Scenario, edges: dict[str, tuple[float, ...]]) -> list[dict[str, str]]:
    """Build the promtool input series of one scenario."""
    target = {"job": JOB, "instance": INSTANCE}
    series: list[dict[str, str]] = []
    for status in sorted({status for _, status, _ in scenario.requests}):
        observations = [(d, n) for d, s, n in scenario.requests if s == status]
        labels = {
            **target,
            "http_route": "/login",
            "http_request_method": "POST",
            "http_response_status_code": str(status),
        }
        series += _histogram(
            HTTP_BUCKET, HTTP_COUNT, edges[HTTP_SERVER_DURATION], observations, labels
        )
    redis_labels = {**target, "db_system_name": "redis", "db_operation_name": "GET"}
    series += _histogram(
        REDIS_BUCKET, REDIS_COUNT, edges[DB_CLIENT_DURATION], list(scenario.redis), redis_labels
    )
    series.append(
        {
            "series": MEMORY_METRIC + _labels(**target),
            "values": _gauge(scenario.rss_mb * 1048576),
        }
    )
    series.append(
        {"series": CPU_METRIC + _labels(**target), "values": _gauge(scenario.cpu_pct / 100.0)}
    )
    return series


def _expected_alert(name: str, thresholds: Thresholds) -> dict[str, Any]:
    annotations = alert_annotations(name, thresholds, DEFAULT_WINDOW, DEFAULT_FOR)
    target = f"{JOB} {INSTANCE}"
    expanded = {
        key: value.replace("{{ $labels.job }} {{ $labels.instance }}", target)
        for key, value in annotations.items()
    }
    return {
        "exp_labels": {"severity": SEVERITY, "job": JOB, "instance": INSTANCE},
        "exp_annotations": expanded,
    }


def build_rule_tests(thresholds: Thresholds, rule_file: str) -> dict[str, Any]:
    """Build the promtool test document for every scenario."""
    edges = histogram_edges(environ={}, thresholds=thresholds)
    tests = []
    for scenario in scenarios():
        alert_tests = [
            {
                "eval_time": EVAL_TIME,
                "alertname": alert.name,
                "exp_alerts": (
                    [_expected_alert(alert.name, thresholds)]
                    if alert.name in scenario.expected
                    else []
                ),
            }
            for alert in ALERTS
        ]
        tests.append(
            {
                "name": scenario.name,
                "interval": "1m",
                "input_series": input_series(scenario, edges),
                "alert_rule_test": alert_tests,
            }
        )
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


def render_rule_tests(thresholds: Thresholds, rule_file: str = "../rules/flux-alerts.yml") -> str:
    """Render the promtool test file text (for the default "for" of the rules)."""
    header = (
        "Generated by `otel-flux alerts render` together with the rules; do not edit.\n"
        f"Synthetic traffic below, at and above every threshold (for: {DEFAULT_FOR})."
    )
    return dump(build_rule_tests(thresholds, rule_file), header=header)
