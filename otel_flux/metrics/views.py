"""Metric Views of the otel_flux MeterProvider.

The three duration histograms get explicit bucket edges that contain every alert
threshold (see :mod:`otel_flux.metrics.buckets`), and every instrument keeps
only attribute keys with a bounded set of values: route templates, never raw
paths or client addresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

from otel_flux.alerts.thresholds import Thresholds, read_thresholds
from otel_flux.metrics import config
from otel_flux.metrics.buckets import bucket_edges
from otel_flux.settings import Setting

T = TypeVar("T")
Edges = tuple[float, ...]
Explicit = tuple[float, ...] | None

HTTP_SERVER_DURATION = "http.server.request.duration"
DB_CLIENT_DURATION = "db.client.operation.duration"
SECURITY_CHECK_DURATION = "security.check.duration"

HTTP_SERVER_ATTRIBUTES = frozenset(
    {"http.request.method", "http.route", "http.response.status_code", "error.type"}
)
DB_CLIENT_ATTRIBUTES = frozenset({"db.system.name", "db.operation.name", "error.type"})


@dataclass(frozen=True, slots=True)
class HistogramRange:
    """The span of durations (seconds) the computed grid of one histogram covers."""

    minimum_s: float
    maximum_s: float


HTTP_SERVER_RANGE = HistogramRange(0.001, 30.0)
DB_CLIENT_RANGE = HistogramRange(0.00005, 5.0)
SECURITY_CHECK_RANGE = HistogramRange(0.00005, 5.0)


def histogram_edges(
    environ: Mapping[str, str] | None = None,
    thresholds: Thresholds | None = None,
    *,
    strict: bool = False,
) -> dict[str, Edges]:
    """Return the bucket edges (seconds) of each duration histogram, keyed by instrument."""
    if thresholds is None:
        thresholds = read_thresholds(environ, strict=strict)
    growth = _read(config.BUCKET_GROWTH, environ, strict)

    def edges(span: HistogramRange, required: tuple[float, ...], explicit: Explicit) -> Edges:
        return bucket_edges(span.minimum_s, span.maximum_s, growth, required, explicit)

    return {
        HTTP_SERVER_DURATION: edges(
            HTTP_SERVER_RANGE,
            (thresholds.http_p99_s,),
            _read(config.HTTP_BUCKETS_S, environ, strict),
        ),
        DB_CLIENT_DURATION: edges(
            DB_CLIENT_RANGE,
            (thresholds.redis_p99_s,),
            _read(config.REDIS_BUCKETS_S, environ, strict),
        ),
        SECURITY_CHECK_DURATION: edges(
            SECURITY_CHECK_RANGE, (), _read(config.SECURITY_BUCKETS_S, environ, strict)
        ),
    }


def _read(setting: Setting[T], environ: Mapping[str, str] | None, strict: bool) -> T:
    return setting.read_strict(environ) if strict else setting.read(environ)


def build_views(
    environ: Mapping[str, str] | None = None, thresholds: Thresholds | None = None
) -> list[View]:
    """Build the Views for the MeterProvider. An invalid setting falls back to its default."""
    edges = histogram_edges(environ, thresholds)
    return [
        View(
            instrument_name=HTTP_SERVER_DURATION,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=edges[HTTP_SERVER_DURATION]),
            attribute_keys=set(HTTP_SERVER_ATTRIBUTES),
        ),
        View(
            instrument_name=DB_CLIENT_DURATION,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=edges[DB_CLIENT_DURATION]),
            attribute_keys=set(DB_CLIENT_ATTRIBUTES),
        ),
        View(
            instrument_name=SECURITY_CHECK_DURATION,
            aggregation=ExplicitBucketHistogramAggregation(
                boundaries=edges[SECURITY_CHECK_DURATION]
            ),
        ),
    ]
