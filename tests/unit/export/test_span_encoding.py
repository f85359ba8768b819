"""The span encoder writes the request the SDK's OTLP encoder builds."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from otel_flux.export.spans import SpanEncoder, encode_spans
from otel_flux.tracing import LeanTracer

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_SCALAR = st.one_of(
    st.text(max_size=40),
    st.booleans(),
    _INT64,
    st.floats(allow_nan=False),
)
_VALUE = st.one_of(
    _SCALAR,
    st.lists(st.text(max_size=10), max_size=4),
    st.lists(_INT64, max_size=4),
    st.lists(st.booleans(), max_size=4),
)
_KEY = st.text(min_size=1, max_size=20)
_ATTRIBUTES = st.dictionaries(_KEY, _VALUE, max_size=8)
_EVENT = st.tuples(st.text(max_size=20), _ATTRIBUTES)
_SPAN = st.fixed_dictionaries(
    {
        "name": st.text(max_size=40),
        "kind": st.sampled_from(list(SpanKind)),
        "attributes": _ATTRIBUTES,
        "events": st.lists(_EVENT, max_size=3),
        "status": st.sampled_from(
            [
                Status(StatusCode.UNSET),
                Status(StatusCode.OK),
                Status(StatusCode.ERROR),
                Status(StatusCode.ERROR, "boom"),
            ]
        ),
        "child": st.booleans(),
        "linked": st.booleans(),
        "tracer": st.sampled_from(["a", "b"]),
    }
)


def _parsed(data: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(data)


def _spec(name: str, **overrides: object) -> dict[str, object]:
    """Return the description of one span for _record: an INTERNAL root span by default."""
    spec: dict[str, object] = {
        "name": name,
        "kind": SpanKind.INTERNAL,
        "attributes": {},
        "events": [],
        "status": Status(StatusCode.UNSET),
        "child": False,
        "linked": False,
        "tracer": "a",
    }
    spec.update(overrides)
    return spec


def _record(specs: Sequence[dict[str, object]], lean: bool = False) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "encoding-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value")]),
    )
    for spec in specs:
        tracer = provider.get_tracer(f"scope-{spec['tracer']}", "1.0")
        if lean:
            tracer = LeanTracer(tracer)  # type: ignore[arg-type]
        parent_context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        links = [Link(remote, {"link.reason": "test"})] if spec["linked"] else []
        span = tracer.start_span(
            str(spec["name"]),
            context=parent_context if spec["child"] else context.Context(),
            kind=spec["kind"],  # type: ignore[arg-type]
            attributes=spec["attributes"],  # type: ignore[arg-type]
            links=links,
        )
        for name, attributes in spec["events"]:  # type: ignore[attr-defined]
            span.add_event(name, attributes)
        span.set_status(spec["status"])  # type: ignore[arg-type]
        span.end()
    return list(exporter.get_finished_spans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SPAN, min_size=1, max_size=6))
def test_encoder_matches_sdk_for_random_spans(specs: list[dict[str, object]]) -> None:
    spans = _record(specs)

    expected = sdk_encode(spans)

    assert _parsed(encode_spans(spans)) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SPAN, min_size=1, max_size=6))
def test_encoder_matches_sdk_for_lean_spans(specs: list[dict[str, object]]) -> None:
    spans = _record(specs, lean=True)

    expected = sdk_encode(spans)

    assert _parsed(encode_spans(spans)) == expected


def test_encoder_matches_sdk_bytes_for_typical_spans() -> None:
    specs = [
        _spec(
            "GET /items/{id}",
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "GET", "server.port": 8000},
        ),
        _spec(
            "HGET",
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": "redis", "db.operation.name": "HGET"},
            status=Status(StatusCode.ERROR, "timeout"),
            child=True,
            tracer="b",
        ),
    ]
    spans = _record(specs)

    expected = sdk_encode(spans).SerializeToString()

    assert encode_spans(spans) == expected


def test_encoder_reuse_gives_same_bytes() -> None:
    spans = _record(
        [
            _spec(f"span {i}", attributes={"index": i, "parity": "even" if i % 2 == 0 else "odd"})
            for i in range(20)
        ]
    )
    encoder = SpanEncoder(cache_limit=3)

    first = encoder.encode(spans)
    second = encoder.encode(spans)

    assert (first, second) == (encode_spans(spans), encode_spans(spans))


def test_encoder_merges_equal_resources() -> None:
    spans = _record([_spec("one")]) + _record([_spec("two")])

    request = _parsed(encode_spans(spans))

    assert len(request.resource_spans) == 1


def test_encoder_skips_int_outside_int64(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Built directly: the SDK's tracer would keep such a value, and its
    # encoder skips it the same way.
    span = ReadableSpan(
        "big",
        context=SpanContext(1, 2, is_remote=False),
        attributes={"too.big": 2**70, "kept": "yes"},
        start_time=1,
        end_time=2,
    )
    encoder = SpanEncoder()

    with caplog.at_level(logging.WARNING, logger="otel_flux.export.spans"):
        request = _parsed(encoder.encode([span]))

    kept = [kv.key for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes]
    assert kept == ["kept"]
    assert encoder.skipped_attributes == 1
    assert "too.big" in caplog.text


def test_encoder_replaces_lone_surrogate() -> None:
    span = ReadableSpan("bad \ud800 name", context=SpanContext(1, 2, is_remote=False))

    request = _parsed(encode_spans([span]))

    assert request.resource_spans[0].scope_spans[0].spans[0].name == "bad \ufffd name"


def _span(scope: InstrumentationScope, **attributes: object) -> ReadableSpan:
    return ReadableSpan(
        "span",
        context=SpanContext(1, 2, is_remote=False),
        resource=_RESOURCE,
        attributes=attributes,
        instrumentation_scope=scope,
        start_time=1,
        end_time=2,
    )


_RESOURCE = Resource.create({"service.name": "encoding-test"})


@pytest.mark.parametrize("scopes", [63, 64, 70, 200])
def test_encoder_handles_many_scopes_in_a_batch(scopes: int) -> None:
    spans = [_span(InstrumentationScope(f"lib-{index}", "1.0")) for index in range(scopes)]
    encoder = SpanEncoder()

    batches = [encoder.encode(spans), encoder.encode(spans[::-1])]

    assert batches == [
        sdk_encode(spans).SerializeToString(),
        sdk_encode(spans[::-1]).SerializeToString(),
    ]


def test_encoder_names_the_scope_of_a_reused_address() -> None:
    encoder = SpanEncoder()
    mislabelled = 0
    for _ in range(200):
        freed = InstrumentationScope("lib-a")
        encoder.encode([_span(freed)])
        del freed
        # A new object often gets the freed object's address.
        other = InstrumentationScope("lib-b")
        request = _parsed(encoder.encode([_span(other)]))
        if request.resource_spans[0].scope_spans[0].scope.name != "lib-b":
            mislabelled += 1

    assert mislabelled == 0


def test_encoder_keeps_the_sign_of_zero() -> None:
    scope = InstrumentationScope("lib")
    encoder = SpanEncoder()
    encoder.encode([_span(scope, balance=-0.0)])

    encoded = encoder.encode([_span(scope, balance=0.0)])

    assert encoded == sdk_encode([_span(scope, balance=0.0)]).SerializeToString()
