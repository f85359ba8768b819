"""Metric Views that the configurator gives the MeterProvider."""

from __future__ import annotations

from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

from otel_flux.metrics.buckets import DB_CLIENT_DURATION_BUCKETS, HTTP_SERVER_DURATION_BUCKETS


def build_views() -> list[View]:
    """Return the Views for the duration histograms: explicit edges, bounded attributes."""
    return [
        View(
            instrument_name="http.server.request.duration",
            aggregation=ExplicitBucketHistogramAggregation(HTTP_SERVER_DURATION_BUCKETS),
            attribute_keys={
                "http.request.method",
                "http.route",
                "http.response.status_code",
                "url.scheme",
                "error.type",
            },
        ),
        View(
            instrument_name="db.client.operation.duration",
            aggregation=ExplicitBucketHistogramAggregation(DB_CLIENT_DURATION_BUCKETS),
            attribute_keys={"db.system.name", "db.operation.name", "server.address", "error.type"},
        ),
    ]
