"""LeanTracer against the SDK's tracer: the same calls must export the same spans.

Each test builds two real TracerProviders with the same settings and a counting
ID generator, so both produce the same trace and span ids. One span goes through
the SDK's tracer and one through LeanTracer, and the exported spans are compared
field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
    _disable_tracer_configurator,
)
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from otel_flux import tracing
from otel_flux.tracing import LeanSpan, LeanTracer

START_NS = 1_000_000_000
END_NS = 2_000_000_000


class CountingIdGenerator(IdGenerator):
    """Ids 1, 2, 3, ... so two providers hand out the same sequence."""

    def __init__(self, random: bool = True) -> None:
        self._last = 0
        self._random = random

    def generate_span_id(self) -> int:
        self._last += 1
        return self._last

    def generate_trace_id(self) -> int:
        self._last += 1
        return (1 << 100) + self._last

    def is_trace_id_random(self) -> bool:
        return self._random


class RecordingProcessor(SpanProcessor):
    """Keeps every span passed to on_start and on_end, sampled or not."""

    def __init__(self) -> None:
        self.started: list[tuple[ReadableSpan, Context | None]] = []
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.started.append((span, parent_context))

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


class Pipeline:
    """A TracerProvider with an in-memory exporter and a recording processor."""

    def __init__(self, **provider_options: Any) -> None:
        provider_options.setdefault("id_generator", CountingIdGenerator())
        provider_options.setdefault("resource", Resource.create({"service.name": "lean-test"}))
        self.provider = TracerProvider(shutdown_on_exit=False, **provider_options)
        self.exporter = InMemorySpanExporter()
        self.processor = RecordingProcessor()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.provider.add_span_processor(self.processor)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def _pair(**provider_options: Any) -> tuple[Pipeline, trace.Tracer, Pipeline, LeanTracer]:
    """Return an SDK pipeline and tracer, then a lean pipeline and tracer, both alike."""
    sdk = Pipeline(**provider_options)
    lean = Pipeline(**provider_options)
    sdk_tracer = sdk.provider.get_tracer("otel_flux.test", "1.2.3")
    lean_tracer = tracing.get_tracer("otel_flux.test", "1.2.3", lean.provider)
    assert isinstance(lean_tracer, LeanTracer)
    return sdk, sdk_tracer, lean, lean_tracer


def _context_fields(span_context: SpanContext | None) -> Any:
    if span_context is None:
        return None
    return (
        span_context.trace_id,
        span_context.span_id,
        span_context.is_remote,
        int(span_context.trace_flags),
        span_context.trace_state.to_header(),
    )


def _event_fields(span: ReadableSpan, with_time: bool = True) -> list[Any]:
    return [
        (
            event.name,
            event.timestamp if with_time else None,
            list((event.attributes or {}).items()),
            event.dropped_attributes,
        )
        for event in span.events
    ]


def _fields(span: ReadableSpan) -> dict[str, Any]:
    """Everything an exporter reads from a span, with attributes in their order."""
    scope = span.instrumentation_scope
    return {
        "name": span.name,
        "context": _context_fields(span.context),
        "parent": _context_fields(span.parent),
        "kind": span.kind,
        "attributes": list(span.attributes.items()) if span.attributes else [],
        "dropped_attributes": span.dropped_attributes,
        "events": _event_fields(span),
        "dropped_events": span.dropped_events,
        "links": [
            (
                _context_fields(link.context),
                list((link.attributes or {}).items()),
                link.dropped_attributes,
            )
            for link in span.links
        ],
        "dropped_links": span.dropped_links,
        "status": (span.status.status_code, span.status.description),
        "start_time": span.start_time,
        "end_time": span.end_time,
        "resource": span.resource.attributes,
        "scope": (scope.name, scope.version) if scope is not None else None,
    }


def _assert_same(expected: ReadableSpan, actual: ReadableSpan, ignored: Sequence[str] = ()) -> None:
    """Compare field by field, so a failure names the field that differs."""
    expected_fields = _fields(expected)
    actual_fields = _fields(actual)
    for field, value in expected_fields.items():
        if field not in ignored:
            assert actual_fields[field] == value, field


def _only_span(pipeline: Pipeline) -> ReadableSpan:
    spans = pipeline.spans()
    assert len(spans) == 1
    return spans[0]


def _parent(sampled: bool, remote: bool, random: bool = False, state: str = "") -> Context:
    flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
    if random:
        flags |= TraceFlags.RANDOM_TRACE_ID
    parent = SpanContext(
        trace_id=0xABC,
        span_id=0xDEF,
        is_remote=remote,
        trace_flags=TraceFlags(flags),
        trace_state=TraceState.from_header([state]) if state else TraceState(),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


# Operations applied to both spans in the same order.

_KEYS = st.sampled_from(["a", "b", "c", "d", "http.route", ""])
_SCALARS = st.one_of(
    st.text(max_size=6),
    st.integers(-5, 5),
    st.booleans(),
    st.floats(allow_nan=False, width=32),
    st.binary(max_size=3),
    st.none(),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(st.text(max_size=4), max_size=3),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
)
_ATTRIBUTES = st.dictionaries(_KEYS, _VALUES, max_size=4)
_LINK_CONTEXT = st.builds(
    SpanContext,
    trace_id=st.integers(1, 5),
    span_id=st.integers(1, 5),
    is_remote=st.booleans(),
    trace_flags=st.sampled_from([TraceFlags(0), TraceFlags(1)]),
)
_STATUS_CODES = st.sampled_from(list(StatusCode))
_DESCRIPTIONS = st.one_of(st.none(), st.text(max_size=4))

_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set_attribute"), _KEYS, _VALUES),
        st.tuples(st.just("set_attributes"), _ATTRIBUTES),
        st.tuples(st.just("add_event"), st.text(max_size=3), _ATTRIBUTES, st.integers(1, 9)),
        st.tuples(st.just("add_link"), _LINK_CONTEXT, _ATTRIBUTES),
        st.tuples(st.just("update_name"), st.text(max_size=5)),
        st.tuples(st.just("set_status"), _STATUS_CODES, _DESCRIPTIONS),
        st.tuples(st.just("set_status_object"), _STATUS_CODES, _DESCRIPTIONS, _DESCRIPTIONS),
        st.tuples(st.just("record_exception"), st.text(max_size=4), st.integers(1, 9)),
        st.tuples(st.just("end"), st.integers(1, 9)),
    ),
    max_size=25,
)
_LIMITS = st.builds(
    SpanLimits,
    max_span_attributes=st.one_of(st.none(), st.integers(0, 4)),
    max_span_attribute_length=st.one_of(st.none(), st.integers(0, 5)),
    max_events=st.one_of(st.none(), st.integers(0, 3)),
    max_links=st.one_of(st.none(), st.integers(0, 3)),
    max_event_attributes=st.one_of(st.none(), st.integers(0, 3)),
    max_link_attributes=st.one_of(st.none(), st.integers(0, 3)),
    max_attribute_length=st.one_of(st.none(), st.integers(0, 5)),
)


def _apply(span: trace.Span, operations: Sequence[tuple[Any, ...]]) -> None:
    for operation, *arguments in operations:
        if operation == "set_attribute":
            span.set_attribute(*arguments)
        elif operation == "set_attributes":
            span.set_attributes(*arguments)
        elif operation == "add_event":
            name, attributes, timestamp = arguments
            span.add_event(name, attributes, timestamp=timestamp)
        elif operation == "add_link":
            span.add_link(*arguments)
        elif operation == "update_name":
            span.update_name(*arguments)
        elif operation == "set_status":
            span.set_status(*arguments)
        elif operation == "set_status_object":
            code, description, extra = arguments
            span.set_status(Status(code, description), extra)
        elif operation == "record_exception":
            message, timestamp = arguments
            span.record_exception(ValueError(message), timestamp=timestamp)
        elif operation == "end":
            span.end(END_NS + arguments[0])


@settings(max_examples=300, deadline=None)
@given(
    limits=_LIMITS,
    initial=st.one_of(st.none(), _ATTRIBUTES),
    links=st.lists(st.builds(Link, _LINK_CONTEXT, _ATTRIBUTES), max_size=3),
    operations=_OPERATIONS,
)
def test_lean_span_matches_sdk_span(
    limits: SpanLimits,
    initial: dict[str, Any] | None,
    links: list[Link],
    operations: list[tuple[Any, ...]],
) -> None:
    """Random attributes, events, links, names, statuses and ends export alike."""
    sdk, sdk_tracer, lean, lean_tracer = _pair(span_limits=limits)

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span(
            "op", kind=SpanKind.SERVER, attributes=initial, links=links, start_time=START_NS
        )
        _apply(span, operations)
        span.end(END_NS)

    _assert_same(_only_span(sdk), _only_span(lean))


def test_get_tracer_returns_lean_tracer() -> None:
    provider = TracerProvider(shutdown_on_exit=False)

    tracer = tracing.get_tracer("otel_flux.test", "1", provider)

    assert isinstance(tracer, LeanTracer)


def test_fast_path_off_returns_sdk_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_FAST_PATH", "false")
    provider = TracerProvider(shutdown_on_exit=False)

    tracer = tracing.get_tracer("otel_flux.test", "1", provider)

    assert not isinstance(tracer, LeanTracer)
    assert isinstance(tracer.start_span("op"), SdkSpan)


def test_lean_span_is_sdk_span() -> None:
    _, _, _, lean_tracer = _pair()

    span = lean_tracer.start_span("op")

    assert isinstance(span, LeanSpan)
    assert isinstance(span, SdkSpan)


class AttributeAddingSampler(Sampler):
    """Samples on the trace id's parity and adds an attribute and a trace state entry."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if trace_id % 2 else Decision.RECORD_ONLY
        merged = {**(attributes or {}), "sampler.links": len(links or ())}
        return SamplingResult(decision, merged, TraceState([("flux", name)]))

    def get_description(self) -> str:
        return "AttributeAddingSampler"


_SAMPLERS = {
    "default_on": DEFAULT_ON,
    "default_off": DEFAULT_OFF,
    "always_on": ALWAYS_ON,
    "always_off": ALWAYS_OFF,
    "ratio": TraceIdRatioBased(0.5),
    "parent_ratio": ParentBased(TraceIdRatioBased(0.5)),
    "parent_record_only": ParentBased(AttributeAddingSampler()),
    "custom": AttributeAddingSampler(),
}
_PARENTS = {
    "root": lambda: None,
    "local_sampled": lambda: _parent(sampled=True, remote=False),
    "local_unsampled": lambda: _parent(sampled=False, remote=False),
    "remote_sampled": lambda: _parent(sampled=True, remote=True, state="k=v"),
    "remote_unsampled": lambda: _parent(sampled=False, remote=True, state="k=v"),
    "remote_sampled_random": lambda: _parent(sampled=True, remote=True, random=True),
    "invalid": lambda: trace.set_span_in_context(trace.INVALID_SPAN),
}


@pytest.mark.parametrize("sampler_name", list(_SAMPLERS))
@pytest.mark.parametrize("parent_name", list(_PARENTS))
@pytest.mark.parametrize("random_ids", [True, False])
def test_sampling_matches_sdk(sampler_name: str, parent_name: str, random_ids: bool) -> None:
    """Decision, trace flags, trace state and sampler attributes match the SDK's."""
    results = []
    for lean in (False, True):
        pipeline = Pipeline(
            sampler=_SAMPLERS[sampler_name], id_generator=CountingIdGenerator(random_ids)
        )
        provider_tracer = pipeline.provider.get_tracer("otel_flux.test")
        tracer = LeanTracer(provider_tracer) if lean else provider_tracer  # type: ignore[arg-type]
        for trace_round in range(4):
            span = tracer.start_span(
                f"op{trace_round}",
                context=_PARENTS[parent_name](),
                attributes={"a": 1},
                links=[Link(SpanContext(7, 8, False))],
                start_time=START_NS,
            )
            results.append(
                (
                    lean,
                    span.is_recording(),
                    _context_fields(span.get_span_context()),
                    type(span) is trace.NonRecordingSpan,
                )
            )
            span.end(END_NS)
        results.append((lean, [_fields(span) for span in pipeline.processor.ended]))

    half = len(results) // 2
    sdk_results = [result[1:] for result in results[:half]]
    lean_results = [result[1:] for result in results[half:]]
    assert lean_results == sdk_results


def test_default_sampler_is_fast_path_sampler() -> None:
    """A provider without a sampler setting uses the object the fast path checks for."""
    provider = TracerProvider(shutdown_on_exit=False)

    assert provider.sampler is DEFAULT_ON


def test_set_attribute_after_end_ignored() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        span.end(END_NS)
        span.set_attribute("late", 1)
        span.set_attributes({"later": 2})
        span.update_name("renamed")
        span.set_status(StatusCode.ERROR)
        span.add_event("late", timestamp=END_NS)
        span.add_link(SpanContext(7, 8, False))

    lean_span = _only_span(lean)
    assert lean_span.name == "op"
    assert dict(lean_span.attributes or {}) == {}
    assert lean_span.status.status_code is StatusCode.UNSET
    assert lean_span.events == ()
    assert lean_span.links == ()
    _assert_same(_only_span(sdk), lean_span)


def test_double_end_exports_once() -> None:
    _, _, lean, lean_tracer = _pair()
    span = lean_tracer.start_span("op", start_time=START_NS)

    span.end(END_NS)
    span.end(END_NS + 5)

    assert len(lean.processor.ended) == 1
    assert lean.processor.ended[0].end_time == END_NS


def test_processors_see_start_and_end() -> None:
    _, _, lean, lean_tracer = _pair()
    parent_context = _parent(sampled=True, remote=True)

    span = lean_tracer.start_span("op", context=parent_context)
    started = list(lean.processor.started)
    span.end()

    assert len(started) == 1
    assert started[0][0] is span
    assert started[0][1] is parent_context
    assert lean.processor.ended == [span]


def test_ok_status_is_final() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        span.set_status(StatusCode.OK)
        span.set_status(StatusCode.ERROR, "late failure")
        span.end(END_NS)

    assert _only_span(lean).status.status_code is StatusCode.OK
    _assert_same(_only_span(sdk), _only_span(lean))


def test_unset_status_never_replaces() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        span.set_status(StatusCode.ERROR, "failed")
        span.set_status(Status(StatusCode.UNSET))
        span.set_status(StatusCode.UNSET)
        span.end(END_NS)

    assert _only_span(lean).status.description == "failed"
    _assert_same(_only_span(sdk), _only_span(lean))


def test_attribute_limit_drops_oldest() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair(span_limits=SpanLimits(max_span_attributes=2))

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        for key in ("a", "b", "c"):
            span.set_attribute(key, key)
        span.end(END_NS)

    lean_span = _only_span(lean)
    assert dict(lean_span.attributes or {}) == {"b": "b", "c": "c"}
    assert lean_span.dropped_attributes == 1
    _assert_same(_only_span(sdk), lean_span)


def test_attribute_set_again_becomes_newest() -> None:
    """The SDK moves a key set again to the end, so the limit drops another one."""
    sdk, sdk_tracer, lean, lean_tracer = _pair(span_limits=SpanLimits(max_span_attributes=2))

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        span.set_attribute("a", 1)
        span.set_attribute("b", 2)
        span.set_attribute("a", 3)
        span.set_attribute("c", 4)
        span.end(END_NS)

    assert dict(_only_span(lean).attributes or {}) == {"a": 3, "c": 4}
    _assert_same(_only_span(sdk), _only_span(lean))


def test_attribute_length_limit_cuts_strings() -> None:
    limits = SpanLimits(max_span_attribute_length=3)
    sdk, sdk_tracer, lean, lean_tracer = _pair(span_limits=limits)

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", attributes={"a": "abcdef"}, start_time=START_NS)
        span.set_attribute("b", ["long", "xy"])
        span.end(END_NS)

    assert dict(_only_span(lean).attributes or {}) == {"a": "abc", "b": ("lon", "xy")}
    _assert_same(_only_span(sdk), _only_span(lean))


def test_invalid_key_dropped_and_counted() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        span.set_attribute("", "empty")
        span.set_attribute(None, "none")  # type: ignore[arg-type]
        span.set_attributes({"": 1, "kept": 2})
        span.end(END_NS)

    lean_span = _only_span(lean)
    assert dict(lean_span.attributes or {}) == {"kept": 2}
    assert lean_span.dropped_attributes == 3
    _assert_same(_only_span(sdk), lean_span)


def test_non_string_key_in_mapping_converted() -> None:
    """The SDK's mapping cleaning turns a key such as 5 into "5" in set_attributes."""
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", attributes={5: "five"}, start_time=START_NS)  # type: ignore[dict-item]
        span.set_attributes({6: "six", object(): "dropped"})  # type: ignore[dict-item]
        span.end(END_NS)

    lean_span = _only_span(lean)
    assert dict(lean_span.attributes or {}) == {"5": "five", "6": "six"}
    assert lean_span.dropped_attributes == 1
    _assert_same(_only_span(sdk), lean_span)


def test_sequence_values_become_tuples() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()
    values = ["x", "y"]

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", attributes={"list": values}, start_time=START_NS)
        span.set_attribute("other", [1, 2])
        span.end(END_NS)
    values.append("z")

    assert dict(_only_span(lean).attributes or {}) == {"list": ("x", "y"), "other": (1, 2)}
    _assert_same(_only_span(sdk), _only_span(lean))


def test_event_and_link_limits() -> None:
    limits = SpanLimits(max_events=1, max_links=1, max_event_attributes=1, max_link_attributes=1)
    sdk, sdk_tracer, lean, lean_tracer = _pair(span_limits=limits)
    links = [Link(SpanContext(7, 8, False), {"x": 1, "y": 2}), Link(SpanContext(9, 10, False))]

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", links=links, start_time=START_NS)
        span.add_event("first", {"a": 1, "b": 2}, timestamp=START_NS + 1)
        span.add_event("second", timestamp=START_NS + 2)
        span.add_link(SpanContext(11, 12, False))
        span.end(END_NS)

    lean_span = _only_span(lean)
    assert lean_span.dropped_events == 1
    assert lean_span.dropped_links == 2
    _assert_same(_only_span(sdk), lean_span)


def test_record_exception_adds_event() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        span = tracer.start_span("op", start_time=START_NS)
        span.record_exception(KeyError("k"), {"extra": 1}, timestamp=START_NS + 1, escaped=True)
        span.end(END_NS)

    lean_span = _only_span(lean)
    assert lean_span.events[0].name == "exception"
    _assert_same(_only_span(sdk), lean_span)


def _raise_in_current_span(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("op", start_time=START_NS):
        raise RuntimeError("boom")


def test_current_span_records_raised_exception() -> None:
    """start_as_current_span records the exception and sets ERROR, as the SDK does."""
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        with pytest.raises(RuntimeError):
            _raise_in_current_span(tracer)

    sdk_span = _only_span(sdk)
    lean_span = _only_span(lean)
    assert lean_span.status.status_code is StatusCode.ERROR
    assert lean_span.status.description == "RuntimeError: boom"
    # The stack trace and time differ by the frames and moment of each call.
    assert _event_fields(lean_span, with_time=False)[0][2][:2] == [
        ("exception.type", "RuntimeError"),
        ("exception.message", "boom"),
    ]
    sdk_event = dict(sdk_span.events[0].attributes or {})
    lean_event = dict(lean_span.events[0].attributes or {})
    assert lean_event.keys() == sdk_event.keys()
    assert lean_event["exception.escaped"] == sdk_event["exception.escaped"]
    assert "raise RuntimeError" in str(lean_event["exception.stacktrace"])
    assert _fields(lean_span)["status"] == _fields(sdk_span)["status"]


def test_current_span_is_active_inside() -> None:
    _, _, _, lean_tracer = _pair()

    with lean_tracer.start_as_current_span("op") as span:
        current = trace.get_current_span()

    assert current is span


def test_current_span_without_end_on_exit() -> None:
    _, _, lean, lean_tracer = _pair()

    with lean_tracer.start_as_current_span("op", end_on_exit=False) as span:
        pass

    assert span.is_recording()
    assert lean.spans() == []


def test_disabled_tracer_gives_non_recording_span() -> None:
    _, sdk_tracer, lean, lean_tracer = _pair(_tracer_configurator=_disable_tracer_configurator)
    parent_context = _parent(sampled=True, remote=True)

    sdk_span = sdk_tracer.start_span("op", context=parent_context)
    lean_span = lean_tracer.start_span("op", context=parent_context)
    lean_span.end()

    assert type(lean_span) is trace.NonRecordingSpan
    assert not lean_span.is_recording()
    assert lean_span.get_span_context() == sdk_span.get_span_context()
    assert lean.processor.started == []
    assert lean.processor.ended == []


def test_sdk_child_under_lean_parent() -> None:
    """An SDK-tracer span started inside a lean span is its child, as under an SDK parent."""
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for pipeline, tracer in ((sdk, sdk_tracer), (lean, lean_tracer)):
        plain_tracer = pipeline.provider.get_tracer("other.library")
        with tracer.start_as_current_span("server", start_time=START_NS) as parent:
            child = plain_tracer.start_span("child", start_time=START_NS + 1)
            child.end(END_NS - 1)
        assert child.parent == parent.get_span_context()

    sdk_spans = sdk.spans()
    lean_spans = lean.spans()
    assert len(lean_spans) == 2
    for sdk_span, lean_span in zip(sdk_spans, lean_spans, strict=True):
        assert isinstance(lean_span, ReadableSpan)
        assert _fields(lean_span)["parent"] == _fields(sdk_span)["parent"]
        assert _fields(lean_span)["context"] == _fields(sdk_span)["context"]


def test_lean_child_under_lean_parent() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()

    for tracer in (sdk_tracer, lean_tracer):
        with tracer.start_as_current_span("server", start_time=START_NS):
            tracer.start_span("redis", kind=SpanKind.CLIENT, start_time=START_NS + 1).end(
                END_NS - 1
            )

    # A span that start_as_current_span ends takes its end time from the clock.
    for sdk_span, lean_span in zip(sdk.spans(), lean.spans(), strict=True):
        _assert_same(sdk_span, lean_span, ignored=("end_time",))


def test_explicit_context_overrides_current() -> None:
    sdk, sdk_tracer, lean, lean_tracer = _pair()
    explicit = _parent(sampled=True, remote=True)

    for tracer in (sdk_tracer, lean_tracer):
        with tracer.start_as_current_span("outer", start_time=START_NS):
            tracer.start_span("inner", context=explicit, start_time=START_NS).end(END_NS)

    inner = [span for span in lean.spans() if span.name == "inner"]
    assert inner[0].parent is not None
    assert inner[0].parent.span_id == 0xDEF
    # A span that start_as_current_span ends takes its end time from the clock.
    for sdk_span, lean_span in zip(sdk.spans(), lean.spans(), strict=True):
        _assert_same(sdk_span, lean_span, ignored=("end_time",))


def test_span_metrics_match_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own span counters (otel.sdk.span.*) count lean spans the same way."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    readers = []
    for lean in (False, True):
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        pipeline = Pipeline(meter_provider=meter_provider, sampler=ParentBased(ALWAYS_OFF))
        provider_tracer = pipeline.provider.get_tracer("otel_flux.test")
        tracer = LeanTracer(provider_tracer) if lean else provider_tracer  # type: ignore[arg-type]
        tracer.start_span("root").end()
        tracer.start_span("child", context=_parent(sampled=True, remote=True)).end()
        tracer.start_span("open", context=_parent(sampled=True, remote=False))
        readers.append(reader)

    sdk_sums, lean_sums = (_metric_values(reader) for reader in readers)
    assert lean_sums
    assert lean_sums == sdk_sums


def _metric_values(reader: InMemoryMetricReader) -> dict[tuple[str, Any], Any]:
    data = reader.get_metrics_data()
    assert data is not None
    values: dict[tuple[str, Any], Any] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, frozenset((point.attributes or {}).items()))
                    values[key] = getattr(point, "value", None)
    return values


def test_context_detached_after_current_span() -> None:
    _, _, _, lean_tracer = _pair()
    token = context_api.attach(Context())

    with lean_tracer.start_as_current_span("op"):
        pass

    assert trace.get_current_span() is trace.INVALID_SPAN
    context_api.detach(token)
