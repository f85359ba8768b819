"""Views: edges from the thresholds and settings, bounded attributes, real SDK export."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from otel_flux.alerts.thresholds import Thresholds
from otel_flux.metrics.views import (
    DB_CLIENT_DURATION,
    HTTP_SERVER_DURATION,
    SECURITY_CHECK_DURATION,
    build_views,
    histogram_edges,
)


def test_default_edges_contain_thresholds() -> None:
    edges = histogram_edges(environ={})

    assert 1.0 in edges[HTTP_SERVER_DURATION]
    assert 0.05 in edges[DB_CLIENT_DURATION]


def test_threshold_setting_moves_edge() -> None:
    edges = histogram_edges(environ={"FLUX_ALERT_HTTP_P99_MS": "250"})

    assert 0.25 in edges[HTTP_SERVER_DURATION]


def test_explicit_edges_setting() -> None:
    edges = histogram_edges(environ={"FLUX_METRICS_REDIS_BUCKETS_S": "0.001,0.01,0.1"})

    assert edges[DB_CLIENT_DURATION] == (0.001, 0.01, 0.05, 0.1)


def test_growth_setting_changes_bucket_count() -> None:
    coarse = histogram_edges(environ={"FLUX_METRICS_BUCKET_GROWTH": "2"})
    fine = histogram_edges(environ={"FLUX_METRICS_BUCKET_GROWTH": "1.2"})

    assert len(fine[SECURITY_CHECK_DURATION]) > len(coarse[SECURITY_CHECK_DURATION])


def test_invalid_growth_falls_back() -> None:
    fallback = histogram_edges(environ={"FLUX_METRICS_BUCKET_GROWTH": "fast"})

    assert fallback == histogram_edges(environ={})


def _export(attributes: dict[str, str | int]) -> HistogramDataPoint:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=build_views(environ={}))
    histogram = provider.get_meter("test").create_histogram(HTTP_SERVER_DURATION, unit="s")
    histogram.record(1.0, attributes)
    histogram.record(1.0001, attributes)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    point = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]
    assert isinstance(point, HistogramDataPoint)
    return point


def test_view_drops_unbounded_attributes() -> None:
    point = _export(
        {
            "http.route": "/users/{id}",
            "http.request.method": "GET",
            "http.response.status_code": 200,
            "url.path": "/users/42",
            "client.address": "192.0.2.7",
        }
    )

    assert set(point.attributes or {}) == {
        "http.route",
        "http.request.method",
        "http.response.status_code",
    }


def test_threshold_observation_lands_at_or_below_edge() -> None:
    """An observation equal to the threshold counts in the bucket whose edge is the threshold."""
    point = _export({"http.route": "/"})
    index = list(point.explicit_bounds).index(Thresholds().http_p99_s)

    assert point.bucket_counts[index] == 1
    assert point.bucket_counts[index + 1] == 1
