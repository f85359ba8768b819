"""DirectCounter against the SDK's Counter.

Each test adds the same amounts to an SDK Counter on one MeterProvider and to a
DirectCounter on another, both with an InMemoryMetricReader, and compares the
collected points. Between two collections the SDK keeps a random one of the
exemplars offered and the direct counter keeps the last. So the comparison
checks that both have an exemplar for the same points, and the test records
which exemplar the direct counter must hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from time import time_ns
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics._internal import _MeterConfig
from opentelemetry.sdk.metrics._internal.exemplar import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    ExemplarFilter,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    NumberDataPoint,
    Sum,
)
from opentelemetry.sdk.metrics.view import DropAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanContext, TraceFlags

from otel_flux.metrics import direct
from otel_flux.metrics.direct import CARDINALITY_LIMIT, DirectCounter
from tests.support.otel import find_metric, remote_span_context

NAME = "test.decisions"
UNIT = "{decision}"
DESCRIPTION = "Decisions of test checks."
SCOPE = "otel_flux.test"
VERSION = "1.2.3"

# An offered exemplar: (value, trace id, span id)
_Offer = tuple[float, int, int]


class Pair:
    """An SDK Counter and a DirectCounter, each on its own provider with its reader."""

    def __init__(self, exemplar_filter: ExemplarFilter | None = None) -> None:
        resource = Resource.create({"service.name": "direct-counter-test"})
        self.sdk_reader = InMemoryMetricReader()
        self.sdk_provider = MeterProvider(
            [self.sdk_reader],
            resource=resource,
            exemplar_filter=exemplar_filter,
            shutdown_on_exit=False,
        )
        self.sdk = self.sdk_provider.get_meter(SCOPE, VERSION).create_counter(
            NAME, unit=UNIT, description=DESCRIPTION
        )
        self.direct_reader = InMemoryMetricReader()
        self.direct_provider = MeterProvider(
            [self.direct_reader],
            resource=resource,
            exemplar_filter=exemplar_filter,
            shutdown_on_exit=False,
        )
        adder = direct.counter(self.direct_provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)
        assert isinstance(adder, DirectCounter)
        self.direct = adder
        # The last exemplar offered per attribute set since the previous collection.
        self.last_offer: dict[tuple[tuple[str, Any], ...], _Offer] = {}

    def add(
        self,
        amount: float,
        attributes: Mapping[str, Any] | None = None,
        context: Context | None = None,
        offered: bool = False,
    ) -> None:
        self.sdk.add(amount, attributes, context)
        self.direct.add(amount, attributes, context)
        if offered and 0 <= amount < math.inf:
            span_context = trace.get_current_span(context).get_span_context()
            key = tuple(sorted((attributes or {}).items()))
            self.last_offer[key] = (amount, span_context.trace_id, span_context.span_id)

    def collect(self) -> tuple[MetricsData | None, MetricsData | None]:
        return self.sdk_reader.get_metrics_data(), self.direct_reader.get_metrics_data()


def _points(metric: Metric) -> list[NumberDataPoint]:
    points = [point for point in metric.data.data_points if isinstance(point, NumberDataPoint)]
    return sorted(points, key=lambda point: repr(sorted(point.attributes.items())))


def _assert_same_collection(pair: Pair, since_ns: int) -> None:
    """Compare scope, metric and every point, and each exemplar with the last offer."""
    sdk_data, direct_data = pair.collect()
    sdk_found = find_metric(sdk_data, NAME)
    direct_found = find_metric(direct_data, NAME)
    if sdk_found is None:
        assert direct_found is None
        return
    assert direct_found is not None

    sdk_scope, sdk_metric = sdk_found
    direct_scope, direct_metric = direct_found
    assert direct_scope.scope == sdk_scope.scope
    assert direct_metric.name == sdk_metric.name
    assert direct_metric.unit == sdk_metric.unit
    assert direct_metric.description == sdk_metric.description
    assert isinstance(sdk_metric.data, Sum)
    assert isinstance(direct_metric.data, Sum)
    assert direct_metric.data.is_monotonic == sdk_metric.data.is_monotonic
    assert direct_metric.data.aggregation_temporality == sdk_metric.data.aggregation_temporality

    sdk_points = _points(sdk_metric)
    direct_points = _points(direct_metric)
    assert len(direct_points) == len(sdk_points)
    for sdk_point, direct_point in zip(sdk_points, direct_points, strict=True):
        assert direct_point.attributes == sdk_point.attributes
        assert direct_point.value == sdk_point.value
        assert type(direct_point.value) is type(sdk_point.value)
        assert since_ns <= direct_point.start_time_unix_nano <= direct_point.time_unix_nano
        assert len(direct_point.exemplars) == len(sdk_point.exemplars)
        key = tuple(sorted(direct_point.attributes.items()))
        offer = pair.last_offer.pop(key, None)
        if direct_point.exemplars:
            exemplar = direct_point.exemplars[0]
            assert offer == (exemplar.value, exemplar.trace_id or 0, exemplar.span_id or 0)
            assert since_ns <= exemplar.time_unix_nano <= direct_point.time_unix_nano
    pair.last_offer.clear()


_AMOUNTS = st.one_of(
    st.integers(-2, 5),
    st.integers(0, 64).map(lambda sixty_fourths: sixty_fourths / 64),
)
_ATTRIBUTES = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["security.check", "security.decision", "http.route"]),
        st.sampled_from(["rate_limit", "allow", "/a"]),
        max_size=3,
    ),
)
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _AMOUNTS, _ATTRIBUTES, st.sampled_from(["none", "sampled"])),
        st.tuples(st.just("collect")),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(operations=_OPERATIONS)
def test_direct_matches_sdk_counter(operations: list[tuple[Any, ...]]) -> None:
    """Random amounts, attribute sets and collections give the SDK's totals."""
    pair = Pair(TraceBasedExemplarFilter())
    since = time_ns()

    for operation, *arguments in [*operations, ("collect",)]:
        if operation == "add":
            amount, attributes, span = arguments
            sampled = span == "sampled"
            context = remote_span_context(sampled) if sampled else None
            pair.add(amount, attributes, context, offered=sampled)
        else:
            _assert_same_collection(pair, since)


def test_int_amounts_give_int_total() -> None:
    pair = Pair()
    since = time_ns()

    pair.add(1, {"security.check": "rate_limit"})
    pair.add(2, {"security.check": "rate_limit"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    value = _points(direct_found[1])[0].value
    assert value == 3
    assert isinstance(value, int)
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_cumulative_over_collections() -> None:
    pair = Pair()
    since = time_ns()

    pair.add(1, {"security.check": "rate_limit"})
    _assert_same_collection(pair, since)
    pair.add(4, {"security.check": "rate_limit"})
    pair.add(1, {"security.check": "brute_force"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert [point.value for point in _points(direct_found[1])] == [1, 5]
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


@pytest.mark.parametrize("amount", [-1, -0.5])
def test_negative_amount_ignored(amount: float) -> None:
    """A counter only goes up, so the SDK drops a negative amount, and so does this one."""
    pair = Pair()
    since = time_ns()

    pair.add(2, {"security.check": "rate_limit"})
    pair.add(amount, {"security.check": "rate_limit"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].value == 2
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


@pytest.mark.parametrize("amount", [math.inf, math.nan])
def test_non_finite_amount_ignored_and_logged(
    amount: float, caplog: pytest.LogCaptureFixture
) -> None:
    pair = Pair()

    pair.direct.add(1, {"security.check": "rate_limit"})
    pair.direct.add(amount, {"security.check": "rate_limit"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].value == 1
    assert "expected a finite value >= 0" in caplog.text


def test_no_adds_no_metric() -> None:
    pair = Pair()

    _assert_same_collection(pair, time_ns())


def test_exemplar_is_last_sampled_offer() -> None:
    pair = Pair(TraceBasedExemplarFilter())
    first = trace.set_span_in_context(
        trace.NonRecordingSpan(
            SpanContext(0x1, 0x2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        )
    )

    pair.direct.add(1, {"security.check": "rate_limit"}, first)
    pair.direct.add(1, {"security.check": "rate_limit"}, remote_span_context(sampled=True))
    pair.direct.add(1, {"security.check": "rate_limit"}, remote_span_context(sampled=False))

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    exemplars = _points(direct_found[1])[0].exemplars
    assert [(e.trace_id, e.span_id) for e in exemplars] == [(0xABC, 0xDEF)]


def test_exemplars_cleared_after_collection() -> None:
    pair = Pair(TraceBasedExemplarFilter())
    since = time_ns()

    pair.add(1, {"security.check": "rate_limit"}, remote_span_context(sampled=True), offered=True)
    _assert_same_collection(pair, since)
    pair.add(1, {"security.check": "rate_limit"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].exemplars == []
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_always_on_exemplar_outside_span() -> None:
    pair = Pair(AlwaysOnExemplarFilter())
    since = time_ns()

    pair.add(1, {"security.check": "rate_limit"}, offered=True)

    _assert_same_collection(pair, since)


def test_always_off_exemplars() -> None:
    pair = Pair(AlwaysOffExemplarFilter())
    since = time_ns()

    pair.add(1, {"security.check": "rate_limit"}, remote_span_context(sampled=True))

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    assert _points(direct_found[1])[0].exemplars == []
    pair.sdk_reader.get_metrics_data()
    _assert_same_collection(pair, since)


def test_cardinality_limit_overflow_point() -> None:
    pair = Pair()

    for route in range(CARDINALITY_LIMIT + 5):
        pair.direct.add(1, {"http.route": f"/r{route}"})

    direct_found = find_metric(pair.direct_reader.get_metrics_data(), NAME)
    assert direct_found is not None
    points = direct_found[1].data.data_points
    assert len(points) == CARDINALITY_LIMIT + 1
    overflow = [point for point in points if point.attributes.get("otel.metric.overflow")]
    assert len(overflow) == 1
    assert overflow[0].value == 5  # type: ignore[union-attr]


def test_same_name_twice_returns_first() -> None:
    provider = MeterProvider([InMemoryMetricReader()], shutdown_on_exit=False)

    first = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)
    second = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)

    assert second is first


def test_counter_and_histogram_share_reader() -> None:
    """Both kinds reach the same collection, each in its scope."""
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], shutdown_on_exit=False)
    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)
    recorder = direct.histogram(
        provider, "otel_flux.other", None, "test.duration", "s", "", (1.0,), None
    )

    adder.add(1)
    recorder.record(0.5)

    data = reader.get_metrics_data()
    assert find_metric(data, NAME) is not None
    assert find_metric(data, "test.duration") is not None


def test_name_taken_by_histogram_is_refused() -> None:
    provider = MeterProvider([InMemoryMetricReader()], shutdown_on_exit=False)
    direct.histogram(provider, SCOPE, VERSION, NAME, "s", "", (1.0,), None)

    with pytest.raises(ValueError, match="already a histogram"):
        direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)


def test_delta_counter_reader_gets_sdk_counter() -> None:
    reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    provider = MeterProvider([reader], shutdown_on_exit=False)

    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)
    adder.add(1)

    assert not isinstance(adder, DirectCounter)
    found = find_metric(reader.get_metrics_data(), NAME)
    assert found is not None
    assert found[1].data.aggregation_temporality is AggregationTemporality.DELTA  # type: ignore[union-attr]


def test_delta_for_histograms_keeps_direct_counter() -> None:
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    provider = MeterProvider([reader], shutdown_on_exit=False)

    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)

    assert isinstance(adder, DirectCounter)


def test_non_sdk_provider_gets_its_counter() -> None:
    adder = direct.counter(metrics.NoOpMeterProvider(), SCOPE, VERSION, NAME, UNIT, DESCRIPTION)

    assert isinstance(adder, metrics.NoOpCounter)


def test_fast_path_off_gets_sdk_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_FAST_PATH", "false")
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], shutdown_on_exit=False)

    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)
    adder.add(3)

    assert not isinstance(adder, DirectCounter)
    found = find_metric(reader.get_metrics_data(), NAME)
    assert found is not None
    assert _points(found[1])[0].value == 3


@pytest.mark.parametrize(
    "view",
    [
        View(instrument_name=NAME, aggregation=DropAggregation()),
        View(instrument_name=NAME, name="renamed.decisions"),
        View(instrument_name="test.*", attribute_keys={"security.check"}),
        View(instrument_name="*", meter_name=SCOPE),
    ],
)
def test_selecting_view_gets_sdk_counter(view: View) -> None:
    """A View can rename, drop or re-key the counter, which only the SDK's applies."""
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], views=[view], shutdown_on_exit=False)

    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)

    assert not isinstance(adder, DirectCounter)


def test_drop_view_drops_counter() -> None:
    view = View(instrument_name=NAME, aggregation=DropAggregation())
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], views=[view], shutdown_on_exit=False)

    direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION).add(1)

    assert find_metric(reader.get_metrics_data(), NAME) is None


@pytest.mark.parametrize(
    "view",
    [
        View(instrument_name="other.counter", name="renamed"),
        View(instrument_name=NAME, meter_name="otel_flux.other"),
        View(instrument_name=NAME, instrument_type=Histogram, name="renamed"),
    ],
)
def test_view_for_other_instrument_keeps_direct(view: View) -> None:
    provider = MeterProvider([InMemoryMetricReader()], views=[view], shutdown_on_exit=False)

    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)

    assert isinstance(adder, DirectCounter)


def test_meter_configurator_switches_counter() -> None:
    """A meter the SDK's meter configurator disables records nothing, now or later."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        [reader],
        shutdown_on_exit=False,
        _meter_configurator=lambda scope: _MeterConfig(is_enabled=scope.name != SCOPE),
    )
    adder = direct.counter(provider, SCOPE, VERSION, NAME, UNIT, DESCRIPTION)

    adder.add(1, {"security.check": "rate_limit"})
    assert find_metric(reader.get_metrics_data(), NAME) is None

    provider._set_meter_configurator(meter_configurator=lambda scope: _MeterConfig())
    adder.add(2, {"security.check": "rate_limit"})

    found = find_metric(reader.get_metrics_data(), NAME)
    assert found is not None
    assert _points(found[1])[0].value == 2
