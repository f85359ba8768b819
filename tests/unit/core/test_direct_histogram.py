"""DirectHistogram against the SDK's Histogram with the same View.

Each test records the same values into an SDK Histogram on one MeterProvider
and into a DirectHistogram on another, both with an InMemoryMetricReader, and
compares the collected points field by field. Timestamps differ between the two
providers by the time between the calls, so the tests check them against the
clock instead of against each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics._internal.exemplar import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    ExemplarFilter,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanContext, TraceFlags

from otel_flux.metrics import direct
from otel_flux.metrics.direct import CARDINALITY_LIMIT, DirectHistogram
from otel_flux.metrics.views import (
    DB_CLIENT_ATTRIBUTES,
    DB_CLIENT_DURATION,
    build_views,
    histogram_edges,
)
from tests.support.otel import find_metric, remote_span_context

NAME = "test.duration"
UNIT = "s"
DESCRIPTION = "Duration of test operations."
SCOPE = "otel_flux.test"
VERSION = "1.2.3"
# Binary fractions, so sums of the values below are exact and equal in any order.
EDGES = (0.25, 0.5, 1.0, 2.5, 5.0)
KEYS = frozenset({"http.route", "http.request.method"})


class Pair:
    """An SDK Histogram and a DirectHistogram with the same View, each with its reader."""

    def __init__(
        self,
        exemplar_filter: ExemplarFilter | None = None,
        edges: Sequence[float] = EDGES,
        keys: frozenset[str] | None = KEYS,
        name: str = NAME,
    ) -> None:
        resource = Resource.create({"service.name": "direct-test"})
        view = View(
            instrument_name=name,
            aggregation=ExplicitBucketHistogramAggregation(list(edges)),
            attribute_keys=set(keys) if keys is not None else None,
        )
        self.sdk_reader = InMemoryMetricReader()
        self.sdk_provider = MeterProvider(
            [self.sdk_reader],
            resource=resource,
            exemplar_filter=exemplar_filter,
            views=[view],
            shutdown_on_exit=False,
        )
        self.sdk = self.sdk_provider.get_meter(SCOPE, VERSION).create_histogram(
            name, unit=UNIT, description=DESCRIPTION
        )
        self.direct_reader = InMemoryMetricReader()
        self.direct_provider = MeterProvider(
            [self.direct_reader],
            resource=resource,
            exemplar_filter=exemplar_filter,
            shutdown_on_exit=False,
        )
        recorder = direct.histogram(
            self.direct_provider, SCOPE, VERSION, name, UNIT, DESCRIPTION, edges, keys
        )
        assert isinstance(recorder, DirectHistogram)
        self.direct = recorder
        self.name = name

    def record(
        self, amount: float, attributes: Mapping[str, Any] | None = None, context: Any = None
    ) -> None:
        self.sdk.record(amount, attributes, context)
        self.direct.record(amount, attributes, context)

    def collect(self) -> tuple[MetricsData | None, MetricsData | None]:
        return self.sdk_reader.get_metrics_data(), self.direct_reader.get_metrics_data()


def _points(metric: Metric) -> list[HistogramDataPoint]:
    points = [point for point in metric.data.data_points if isinstance(point, HistogramDataPoint)]
    return sorted(points, key=lambda point: repr(sorted(point.attributes.items())))


def _exemplar_fields(point: HistogramDataPoint) -> list[Any]:
    return [
        (exemplar.filtered_attributes, exemplar.value, exemplar.span_id, exemplar.trace_id)
        for exemplar in point.exemplars
    ]


def _assert_same_points(expected: Metric, actual: Metric, since_ns: int) -> None:
    """Compare every data point field; timestamps only against the test's clock."""
    expected_points = _points(expected)
    actual_points = _points(actual)
    assert len(actual_points) == len(expected_points)
    for sdk_point, direct_point in zip(expected_points, actual_points, strict=True):
        assert direct_point.attributes == sdk_point.attributes
        assert direct_point.count == sdk_point.count
        assert direct_point.sum == sdk_point.sum
        assert direct_point.bucket_counts == sdk_point.bucket_counts
        assert direct_point.explicit_bounds == sdk_point.explicit_bounds
        assert direct_point.min == sdk_point.min
        assert direct_point.max == sdk_point.max
        assert _exemplar_fields(direct_point) == _exemplar_fields(sdk_point)
        assert since_ns <= direct_point.start_time_unix_nano <= direct_point.time_unix_nano
        for exemplar in direct_point.exemplars:
            assert since_ns <= exemplar.time_unix_nano <= direct_point.time_unix_nano


def _assert_same_collection(pair: Pair, since_ns: int) -> None:
    sdk_data, direct_data = pair.collect()
    sdk_found = find_metric(sdk_data, pair.name)
    direct_found = find_metric(direct_data, pair.name)
    if sdk_found is None:
        assert direct_found is None
        return
    assert direct_found is not None
    sdk_scope, sdk_metric = sdk_found
    direct_scope, direct_metric = direct_found
    assert direct_scope.scope == sdk_scope.scope
    assert direct_scope.schema_url == sdk_scope.schema_url
    assert direct_metric.name == sdk_metric.name
    assert direct_metric.unit == sdk_metric.unit
    assert direct_metric.description == sdk_metric.description
    sdk_temporality = getattr(sdk_metric.data, "aggregation_temporality", None)
    assert getattr(direct_metric.data, "aggregation_temporality", None) == sdk_temporality
    _assert_same_points(sdk_metric, direct_metric, since_ns)


_AMOUNTS = st.one_of(
    st.sampled_from(EDGES),
    st.integers(-4, 640).map(lambda sixty_fourths: sixty_fourths / 64),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan]),
)
_RECORDED_ATTRIBUTES = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["http.route", "http.request.method", "client.address", "extra"]),
        st.one_of(st.sampled_from(["/a", "/b", "GET", "x"]), st.integers(0, 2)),
        max_size=4,
    ),
)
_SPANS = st.sampled_from(["none", "sampled", "unsampled"])
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("record"), _AMOUNTS, _RECORDED_ATTRIBUTES, _SPANS),
        st.tuples(st.just("collect")),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(operations=_OPERATIONS, filtered=st.booleans())
def test_direct_matches_sdk_histogram(operations: list[tuple[Any, ...]], filtered: bool) -> None:
    """Random values, attribute sets, spans and collections give the SDK's points."""
    pair = Pair(TraceBasedExemplarFilter(), keys=KEYS if filtered else None)
    since = time_ns()

    for operation, *arguments in [*operations, ("collect",)]:
        if operation == "record":
            amount, attributes, span = arguments
            context = None if span == "none" else remote_span_context(span == "sampled")
            pair.record(amount, attributes, context)
        else:
            _assert_same_collection(pair, since)


def test_upper_edge_inclusive() -> None:
    pair = Pair()
    since = time_ns()

    for amount in (*EDGES, 0.0, 5.0001, 1000.0):
        pair.record(amount, {"http.route": "/a"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].bucket_counts == (2, 1, 1, 1, 1, 2)
    _assert_same_collection(pair, since)


def test_cumulative_over_collections() -> None:
    pair = Pair()
    since = time_ns()

    pair.record(0.5, {"http.route": "/a"})
    first = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    pair.record(2.0, {"http.route": "/a"})
    second = find_metric(pair.direct_reader.get_metrics_data(), NAME)

    assert first is not None
    assert second is not None
    first_point = _points(first[1])[0]
    second_point = _points(second[1])[0]
    assert second_point.count == 2
    assert second_point.sum == 2.5
    assert second_point.start_time_unix_nano == first_point.start_time_unix_nano
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_view_keys_filter_attributes() -> None:
    pair = Pair()
    since = time_ns()

    pair.record(1.0, {"http.route": "/a", "client.address": "10.0.0.1"})
    pair.record(1.0, {"client.address": "10.0.0.2", "http.route": "/a"})
    pair.record(1.0, {"http.route": "/a", "http.request.method": "GET"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    attributes = [dict(point.attributes) for point in _points(direct_found[1])]
    assert attributes == [{"http.route": "/a", "http.request.method": "GET"}, {"http.route": "/a"}]
    _assert_same_collection(pair, since)


def test_real_views_edges_and_keys() -> None:
    """The Redis duration edges and attribute keys that otel_flux uses in production."""
    edges = histogram_edges()[DB_CLIENT_DURATION]
    pair = Pair(edges=edges, keys=DB_CLIENT_ATTRIBUTES, name=DB_CLIENT_DURATION)
    since = time_ns()
    attributes = {
        "db.system.name": "redis",
        "db.operation.name": "GET",
        "db.query.text": "GET ?",
        "server.address": "127.0.0.1",
        "server.port": 6379,
    }

    for amount in (*edges, 0.0, edges[-1] * 2):
        pair.record(amount, attributes)

    _assert_same_collection(pair, since)


def test_no_records_no_metric() -> None:
    pair = Pair()
    since = time_ns()

    _assert_same_collection(pair, since)


@pytest.mark.parametrize("amount", [-1.0, math.inf, -math.inf, math.nan])
def test_invalid_amount_ignored(amount: float) -> None:
    """The SDK ignores negative and non-finite amounts, so must the direct histogram."""
    pair = Pair()
    since = time_ns()

    pair.record(1.0, {"http.route": "/a"})
    pair.record(amount, {"http.route": "/a"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].count == 1
    _assert_same_collection(pair, since)


def test_trace_based_exemplars() -> None:
    pair = Pair(TraceBasedExemplarFilter())
    since = time_ns()

    pair.record(0.1, {"http.route": "/a", "client.address": "x"}, remote_span_context(sampled=True))
    pair.record(0.2, {"http.route": "/a"}, remote_span_context(sampled=False))
    pair.record(3.0, {"http.route": "/a"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    exemplars = _exemplar_fields(_points(direct_found[1])[0])
    assert exemplars == [({"client.address": "x"}, 0.1, 0xDEF, 0xABC)]
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_exemplar_follows_current_span() -> None:
    """Without a context argument the current span decides, as in the SDK."""
    pair = Pair(TraceBasedExemplarFilter())
    since = time_ns()
    span = trace.NonRecordingSpan(
        SpanContext(0x123, 0x456, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    )

    with trace.use_span(span):
        pair.record(0.3, {"http.route": "/a"})

    _assert_same_collection(pair, since)


def test_always_on_exemplars_outside_span() -> None:
    pair = Pair(AlwaysOnExemplarFilter())
    since = time_ns()

    pair.record(0.1, {"http.route": "/a", "extra": 1})
    pair.record(0.2, {"http.route": "/a"})
    pair.record(7.0, None)

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    points = {repr(dict(point.attributes)): point for point in direct_found[1].data.data_points}
    assert _exemplar_fields(points["{}"]) == [(None, 7.0, None, None)]  # type: ignore[arg-type]
    assert _exemplar_fields(points["{'http.route': '/a'}"]) == [  # type: ignore[arg-type]
        ({}, 0.2, None, None)
    ]
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_always_on_exemplars_in_unsampled_span() -> None:
    pair = Pair(AlwaysOnExemplarFilter())
    since = time_ns()

    for amount in (0.1, 0.3, 0.4, 9.0):
        pair.record(amount, {"http.route": "/a", "extra": "e"}, remote_span_context(sampled=False))

    _assert_same_collection(pair, since)


def test_always_off_exemplars() -> None:
    pair = Pair(AlwaysOffExemplarFilter())
    since = time_ns()

    pair.record(0.1, {"http.route": "/a"}, remote_span_context(sampled=True))

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].exemplars == []
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_exemplars_cleared_after_collection() -> None:
    pair = Pair(AlwaysOnExemplarFilter())
    since = time_ns()

    pair.record(0.1, {"http.route": "/a"})
    _assert_same_collection(pair, since)
    pair.record(0.6, {"http.route": "/a"})

    _assert_same_collection(pair, since)


def test_cardinality_limit_overflow_point() -> None:
    pair = Pair()
    since = time_ns()

    for route in range(CARDINALITY_LIMIT + 5):
        pair.record(1.0, {"http.route": f"/r{route}"})
    pair.record(1.0, {"http.route": "/r0"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    points = direct_found[1].data.data_points
    assert len(points) == CARDINALITY_LIMIT + 1
    overflow = [point for point in points if point.attributes.get("otel.metric.overflow")]
    assert len(overflow) == 1
    assert overflow[0].count == 5  # type: ignore[union-attr]
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_scope_name_and_version() -> None:
    pair = Pair()
    pair.record(1.0)

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)

    assert direct_found is not None
    assert direct_found[0].scope.name == SCOPE
    assert direct_found[0].scope.version == VERSION


def test_collection_without_sdk_metrics() -> None:
    """A provider whose SDK instruments recorded nothing still exports the histogram."""
    pair = Pair()
    pair.record(1.0)

    data = pair.direct_reader.get_metrics_data()

    assert data is not None
    assert len(data.resource_metrics) == 1
    assert data.resource_metrics[0].resource == pair.direct_provider._sdk_config.resource
    assert find_metric(data, NAME) is not None


def test_merged_with_sdk_metrics_of_same_scope() -> None:
    pair = Pair()
    counter = pair.direct_provider.get_meter(SCOPE, VERSION).create_counter("test.count")
    other = pair.direct_provider.get_meter("other.scope").create_counter("other.count")
    counter.add(1)
    other.add(1)
    pair.record(1.0)

    data = pair.direct_reader.get_metrics_data()

    assert data is not None
    scopes = {
        scope_metrics.scope.name: sorted(metric.name for metric in scope_metrics.metrics)
        for scope_metrics in data.resource_metrics[0].scope_metrics
    }
    assert scopes == {SCOPE: sorted(["test.count", NAME]), "other.scope": ["other.count"]}
    assert len(data.resource_metrics[0].scope_metrics) == 2


def test_reader_added_later_gets_points() -> None:
    pair = Pair()
    pair.record(1.0, {"http.route": "/a"})
    late_reader = InMemoryMetricReader()

    pair.direct_provider.add_metric_reader(late_reader)
    pair.record(2.0, {"http.route": "/a"})

    found = find_metric(late_reader.get_metrics_data(), NAME)
    assert found is not None
    # NOTE: unlike the SDK, whose new reader starts empty, the direct points are
    # cumulative from their start time, so the late reader sees both records.
    assert _points(found[1])[0].count == 2


def test_each_reader_gets_exemplars() -> None:
    """The SDK keeps exemplars per reader, so a second reader still gets them."""
    pair = Pair(AlwaysOnExemplarFilter())
    second_reader = InMemoryMetricReader()
    pair.direct_provider.add_metric_reader(second_reader)
    pair.record(1.0, {"http.route": "/a"})

    first = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    second = find_metric(second_reader.get_metrics_data(), NAME)

    assert first is not None
    assert second is not None
    assert len(_points(first[1])[0].exemplars) == 1
    assert len(_points(second[1])[0].exemplars) == 1


def test_delta_reader_gets_sdk_histogram() -> None:
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    provider = MeterProvider([reader], shutdown_on_exit=False)

    recorder = direct.histogram(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION, EDGES, KEYS)
    recorder.record(1.0)

    assert not isinstance(recorder, DirectHistogram)
    found = find_metric(reader.get_metrics_data(), NAME)
    assert found is not None
    assert found[1].data.aggregation_temporality is AggregationTemporality.DELTA  # type: ignore[union-attr]


def test_delta_for_other_kind_keeps_direct() -> None:
    """Only the histogram temporality matters; a delta counter reader keeps the fast path."""
    reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    provider = MeterProvider([reader], shutdown_on_exit=False)

    recorder = direct.histogram(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION, EDGES, KEYS)

    assert isinstance(recorder, DirectHistogram)


def test_non_sdk_provider_gets_its_histogram() -> None:
    provider = metrics.NoOpMeterProvider()

    recorder = direct.histogram(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION, EDGES, KEYS)

    assert not isinstance(recorder, DirectHistogram)
    assert isinstance(recorder, metrics.NoOpHistogram)


def test_fast_path_off_gets_sdk_histogram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_FAST_PATH", "false")
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], shutdown_on_exit=False)

    recorder = direct.histogram(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION, EDGES, KEYS)
    recorder.record(1.0)

    assert not isinstance(recorder, DirectHistogram)
    found = find_metric(reader.get_metrics_data(), NAME)
    assert found is not None
    point = _points(found[1])[0]
    assert point.explicit_bounds == EDGES


def test_two_histograms_one_provider() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], shutdown_on_exit=False)
    first = direct.histogram(provider, SCOPE, VERSION, "first", UNIT, "", EDGES, None)
    second = direct.histogram(provider, SCOPE, VERSION, "second", UNIT, "", EDGES, None)

    first.record(1.0)
    second.record(2.0)

    data = reader.get_metrics_data()
    first_found = find_metric(data, "first")
    second_found = find_metric(data, "second")
    assert first_found is not None
    assert second_found is not None
    assert _points(first_found[1])[0].sum == 1.0
    assert _points(second_found[1])[0].sum == 2.0


def test_other_provider_reader_untouched() -> None:
    """Each MeterProvider's readers get only that provider's direct histograms."""
    other_reader = InMemoryMetricReader()
    MeterProvider([other_reader], shutdown_on_exit=False)
    pair = Pair()
    late_provider = MeterProvider([InMemoryMetricReader()], shutdown_on_exit=False)
    direct.histogram(late_provider, SCOPE, VERSION, "late", UNIT, "", EDGES, None).record(1.0)
    pair.record(1.0)

    assert find_metric(other_reader.get_metrics_data(), NAME) is None
    assert find_metric(pair.sdk_reader.get_metrics_data(), "late") is None
    assert find_metric(pair.direct_reader.get_metrics_data(), "late") is None


def test_other_provider_delta_reader_ignored() -> None:
    """A delta reader of another MeterProvider leaves this provider on the direct path."""
    delta_reader = InMemoryMetricReader(
        preferred_temporality={Histogram: AggregationTemporality.DELTA}
    )
    MeterProvider([delta_reader], shutdown_on_exit=False)
    provider = MeterProvider([InMemoryMetricReader()], shutdown_on_exit=False)

    recorder = direct.histogram(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION, EDGES, KEYS)

    assert isinstance(recorder, DirectHistogram)


def test_each_reader_gets_new_exemplars_only() -> None:
    """A reader gets an exemplar once, even when another reader collected in between."""
    pair = Pair(AlwaysOnExemplarFilter())
    second_reader = InMemoryMetricReader()
    pair.direct_provider.add_metric_reader(second_reader)
    pair.record(1.0, {"http.route": "/a"})
    pair.direct_reader.get_metrics_data()
    pair.record(0.1, {"http.route": "/a"})

    first = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    second = find_metric(second_reader.get_metrics_data(), NAME)

    assert first is not None
    assert second is not None
    assert [exemplar.value for exemplar in _points(first[1])[0].exemplars] == [0.1]
    assert [exemplar.value for exemplar in _points(second[1])[0].exemplars] == [0.1, 1.0]


def _db_histogram(provider: MeterProvider) -> Any:
    return direct.histogram(
        provider,
        SCOPE,
        VERSION,
        DB_CLIENT_DURATION,
        "s",
        DESCRIPTION,
        histogram_edges()[DB_CLIENT_DURATION],
        DB_CLIENT_ATTRIBUTES,
    )


def test_own_views_keep_direct_histogram() -> None:
    """The Views otel_flux builds for its histograms are the ones a direct histogram applies."""
    provider = MeterProvider([InMemoryMetricReader()], views=build_views(), shutdown_on_exit=False)

    recorder = _db_histogram(provider)

    assert isinstance(recorder, DirectHistogram)


def test_user_view_gets_sdk_histogram() -> None:
    """A user's View that selects the histogram makes it the SDK's, and the View applies."""
    reader = InMemoryMetricReader()
    views = [*build_views(), View(instrument_name=DB_CLIENT_DURATION, name="renamed.duration")]
    provider = MeterProvider([reader], views=views, shutdown_on_exit=False)

    recorder = _db_histogram(provider)
    recorder.record(0.001)

    assert not isinstance(recorder, DirectHistogram)
    assert find_metric(reader.get_metrics_data(), "renamed.duration") is not None


def test_view_with_other_edges_gets_sdk_histogram() -> None:
    """otel_flux's own View built from other settings is not what the direct one applies."""
    views = build_views({"FLUX_METRICS_BUCKET_GROWTH": "2.0"})
    provider = MeterProvider([InMemoryMetricReader()], views=views, shutdown_on_exit=False)

    assert not isinstance(_db_histogram(provider), DirectHistogram)


def test_two_matching_views_get_sdk_histogram() -> None:
    """Two Views that select it make two streams, which only the SDK produces."""
    views = [*build_views(), *build_views()]
    provider = MeterProvider([InMemoryMetricReader()], views=views, shutdown_on_exit=False)

    assert not isinstance(_db_histogram(provider), DirectHistogram)
