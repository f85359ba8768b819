"""Encode finished spans to an OTLP ``ExportTraceServiceRequest``.

The bytes equal what the SDK's encoder builds and serializes: same grouping by
resource and instrumentation scope, same fields, same order. What differs is the
cost. The SDK builds a protobuf object per span, attribute and value, and it
hashes the resource (a JSON dump of its attributes) once per span. This encoder
writes each span straight to bytes. Most attributes repeat from span to span
(method, route, status code, server address, command name), so each encoded
attribute is kept in a bounded cache and reused.

Encoding a batch of the sample service's spans took 29 us per span with the
SDK's encoder and 3.6 us with this one (one AMD EPYC core, SDK 1.45.2).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from otel_flux.export.wire import delimited, fixed32, fixed64, key_value, tag, text, varint
from otel_flux.tracing import UNSET as _UNSET
from otel_flux.tracing import LeanSpan

_logger = logging.getLogger(__name__)

# Field keys of opentelemetry.proto.trace.v1 and collector.trace.v1.
_RESOURCE_SPANS = tag(1, 2)  # ExportTraceServiceRequest.resource_spans
_RESOURCE = tag(1, 2)  # ResourceSpans.resource
_SCOPE_SPANS = tag(2, 2)  # ResourceSpans.scope_spans
_SCHEMA_URL = tag(3, 2)  # ResourceSpans.schema_url and ScopeSpans.schema_url
_SCOPE = tag(1, 2)  # ScopeSpans.scope
_SPANS = tag(2, 2)  # ScopeSpans.spans
_RESOURCE_ATTRIBUTE = tag(1, 2)  # Resource.attributes
_SCOPE_NAME = tag(1, 2)
_SCOPE_VERSION = tag(2, 2)
_SCOPE_ATTRIBUTE = tag(3, 2)
_TRACE_ID = tag(1, 2)
_SPAN_ID = tag(2, 2)
_TRACE_STATE = tag(3, 2)
_PARENT_SPAN_ID = tag(4, 2)
_NAME = tag(5, 2)
_KIND = tag(6, 0)
_START = tag(7, 1)
_END = tag(8, 1)
_ATTRIBUTE = tag(9, 2)
_DROPPED_ATTRIBUTES = tag(10, 0)
_EVENT = tag(11, 2)
_DROPPED_EVENTS = tag(12, 0)
_LINK = tag(13, 2)
_DROPPED_LINKS = tag(14, 0)
_STATUS = tag(15, 2)
_FLAGS = tag(16, 5)
_EVENT_TIME = tag(1, 1)
_EVENT_NAME = tag(2, 2)
_EVENT_ATTRIBUTE = tag(3, 2)
_EVENT_DROPPED = tag(4, 0)
_LINK_TRACE_ID = tag(1, 2)
_LINK_SPAN_ID = tag(2, 2)
_LINK_ATTRIBUTE = tag(4, 2)
_LINK_DROPPED = tag(5, 0)
_LINK_FLAGS = tag(6, 5)
_STATUS_MESSAGE = tag(2, 2)
_STATUS_CODE = tag(3, 0)

_IDS_PREFIX = _TRACE_ID + varint(16)
_SPAN_ID_PREFIX = _SPAN_ID + varint(8)
_PARENT_PREFIX = _PARENT_SPAN_ID + varint(8)
# Start and end time in one call: both keys are one byte long.
_TIMES = struct.Struct("<BQBQ").pack
_START_TAG = _START[0]
_END_TAG = _END[0]

# Lengths below 128 take one byte, which is the common case here.
_ONE_BYTE_LENGTHS = tuple(varint(n) for n in range(128))


def _length(size: int) -> bytes:
    return _ONE_BYTE_LENGTHS[size] if size < 128 else varint(size)


# SpanKind.INTERNAL is 0 in the API and SPAN_KIND_INTERNAL is 1 in OTLP.
_KINDS = {kind: _KIND + varint(kind.value + 1) for kind in SpanKind}

# SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, plus SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK for
# a remote parent; the SDK's encoder sets no other bit.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_LOCAL_FLAGS = _FLAGS + fixed32(_HAS_IS_REMOTE)
_REMOTE_FLAGS = _FLAGS + fixed32(_HAS_IS_REMOTE | _IS_REMOTE)

# The cache of encoded attributes starts over when it reaches this size, so
# attributes with unbounded values (url.path) cannot grow it.
CACHE_LIMIT = 4096
# Resources and scopes remembered between batches; a process has a handful. The
# memory starts over before a batch once it contains this many, never during one.
_KNOWN_LIMIT = 64

# Attribute value types whose encoding is cached. Floats are left out: they
# rarely repeat, and 0.0 == -0.0 would let one stand for the other.
_CACHED_TYPES = (str, int, bool)

# Span classes whose fields the encoder reads directly.
_PLAIN_SPANS = frozenset((ReadableSpan, LeanSpan))


class SpanEncoder:
    """Turns batches of finished spans into serialized OTLP trace requests.

    One instance per exporter; its caches are used from the exporting thread only.
    """

    def __init__(self, cache_limit: int = CACHE_LIMIT) -> None:
        self._cache_limit = cache_limit
        self._attributes: dict[tuple[str, type, object], bytes] = {}
        # id() of a resource or scope object -> (that object, the first equal
        # object seen), so equal objects from different tracers share one group,
        # as in the SDK. Holding both keeps their ids from being reused.
        self._canonical: dict[int, tuple[Any, Any]] = {}
        self._encoded: dict[int, bytes] = {}
        self.skipped_attributes = 0

    def encode(self, spans: Iterable[ReadableSpan]) -> bytes:
        """Return a serialized ExportTraceServiceRequest holding ``spans``."""
        if len(self._canonical) >= _KNOWN_LIMIT:
            self._canonical.clear()
            self._encoded.clear()
        groups: dict[int, dict[int, list[bytes]]] = {}
        last_resource: Any = None
        last_scope: Any = None
        encoded: list[bytes] = []
        for span in spans:
            resource = span.resource
            scope = span.instrumentation_scope
            # Spans of one tracer come in runs; look the group up once per run.
            if resource is not last_resource or scope is not last_scope:
                last_resource, last_scope = resource, scope
                resource_id = id(self._canonical_of(resource))
                scope_id = id(self._canonical_of(scope))
                by_scope = groups.get(resource_id)
                if by_scope is None:
                    by_scope = groups[resource_id] = {}
                encoded = by_scope.get(scope_id)  # type: ignore[assignment]
                if encoded is None:
                    encoded = by_scope[scope_id] = []
            content = self.encode_span(span)
            encoded.append(_SPANS + _length(len(content)) + content)

        request = []
        for resource_id, by_scope in groups.items():
            scope_spans = b"".join(
                delimited(
                    _SCOPE_SPANS,
                    self._scope_header(scope_id)
                    + b"".join(spans_of_scope)
                    + self._schema_url(self._canonical[scope_id][1]),
                )
                for scope_id, spans_of_scope in by_scope.items()
            )
            resource_spans = self._resource_header(resource_id) + scope_spans
            resource_spans += self._schema_url(self._canonical[resource_id][1])
            request.append(delimited(_RESOURCE_SPANS, resource_spans))
        return b"".join(request)

    def encode_span(self, span: ReadableSpan) -> bytes:
        """Return the content of one Span message."""
        if span.__class__ in _PLAIN_SPANS:
            # The SDK's own classes: read the fields their properties return,
            # without a property call and a copy per field.
            context: SpanContext = span._context  # type: ignore[assignment]
            parent = span._parent
            name = span._name
            kind = span._kind
            start = span._start_time
            end = span._end_time
            attributes: Mapping[str, object] | None = span._attributes
            events: Sequence[Event] = span._events
            links: Sequence[Link] = span._links
            status = span._status
        else:
            context = span.context
            parent = span.parent
            name = span.name
            kind = span.kind
            start = span.start_time
            end = span.end_time
            attributes = span.attributes
            events = span.events
            links = span.links
            status = span.status

        parts = [
            _IDS_PREFIX
            + context.trace_id.to_bytes(16, "big")
            + _SPAN_ID_PREFIX
            + context.span_id.to_bytes(8, "big")
        ]
        trace_state = context.trace_state
        if trace_state:
            state = ",".join(f"{key}={value}" for key, value in trace_state.items())
            parts.append(delimited(_TRACE_STATE, text(state)))
        if parent is not None:
            parts.append(_PARENT_PREFIX + parent.span_id.to_bytes(8, "big"))
        if name:
            encoded_name = text(name)
            parts.append(_NAME + _length(len(encoded_name)) + encoded_name)
        parts.append(_KINDS[kind])
        if start and end:
            parts.append(_TIMES(_START_TAG, start, _END_TAG, end))
        else:
            if start:
                parts.append(_START + fixed64(start))
            if end:
                parts.append(_END + fixed64(end))
        if attributes:
            self._append_attributes(parts, attributes)
        dropped = span.dropped_attributes
        if dropped:
            parts.append(_DROPPED_ATTRIBUTES + varint(dropped))
        if events:
            parts.extend(delimited(_EVENT, self._event(event)) for event in events)
            dropped = span.dropped_events
            if dropped:
                parts.append(_DROPPED_EVENTS + varint(dropped))
        if links:
            parts.extend(delimited(_LINK, self._link(link)) for link in links)
            dropped = span.dropped_links
            if dropped:
                parts.append(_DROPPED_LINKS + varint(dropped))
        parts.append(_UNSET_STATUS if status is _UNSET else _status(status))
        parts.append(_REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS)
        return b"".join(parts)

    def _append_attributes(self, parts: list[bytes], attributes: Mapping[str, object]) -> None:
        cache = self._attributes
        for key, value in attributes.items():
            kind = value.__class__
            if kind in _CACHED_TYPES:
                cache_key = (key, kind, value)
                field = cache.get(cache_key)
                if field is None:
                    field = self._attribute(_ATTRIBUTE, key, value)
                    if len(cache) >= self._cache_limit:
                        cache.clear()
                    cache[cache_key] = field
            else:
                field = self._attribute(_ATTRIBUTE, key, value)
            if field:
                parts.append(field)

    def _attribute(self, field_key: bytes, key: str, value: object) -> bytes:
        try:
            return delimited(field_key, key_value(key, value))
        except (TypeError, ValueError) as error:
            # Attributes set through the SDK are already checked; this catches
            # values placed on a span by other means. The SDK's encoder skips them
            # the same way.
            self.skipped_attributes += 1
            if self.skipped_attributes == 1 or self.skipped_attributes % 1000 == 0:
                _logger.warning(
                    "span attribute %r not exported (%s); %d skipped so far",
                    key,
                    error,
                    self.skipped_attributes,
                )
            return b""

    def _attributes_of(self, field_key: bytes, attributes: Mapping[str, object] | None) -> bytes:
        if not attributes:
            return b""
        return b"".join(self._attribute(field_key, key, value) for key, value in attributes.items())

    def _event(self, event: Event) -> bytes:
        parts = []
        if event.timestamp:
            parts.append(_EVENT_TIME + fixed64(event.timestamp))
        if event.name:
            parts.append(delimited(_EVENT_NAME, text(event.name)))
        parts.append(self._attributes_of(_EVENT_ATTRIBUTE, event.attributes))
        if event.dropped_attributes:
            parts.append(_EVENT_DROPPED + varint(event.dropped_attributes))
        return b"".join(parts)

    def _link(self, link: Link) -> bytes:
        context = link.context
        parts = [
            delimited(_LINK_TRACE_ID, context.trace_id.to_bytes(16, "big")),
            delimited(_LINK_SPAN_ID, context.span_id.to_bytes(8, "big")),
            self._attributes_of(_LINK_ATTRIBUTE, link.attributes),
        ]
        if link.dropped_attributes:
            parts.append(_LINK_DROPPED + varint(link.dropped_attributes))
        parts.append(
            _LINK_FLAGS + fixed32(_HAS_IS_REMOTE | (_IS_REMOTE if context.is_remote else 0))
        )
        return b"".join(parts)

    def _canonical_of(self, obj: Any) -> Any:
        known = self._canonical.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1]
        for stored, canonical in list(self._canonical.values()):
            if stored is canonical and type(canonical) is type(obj) and canonical == obj:
                self._canonical[id(obj)] = (obj, canonical)
                return canonical
        self._canonical[id(obj)] = (obj, obj)
        return obj

    def _resource_header(self, resource_id: int) -> bytes:
        header = self._encoded.get(resource_id)
        if header is None:
            resource: Resource = self._canonical[resource_id][1]
            content = self._attributes_of(_RESOURCE_ATTRIBUTE, resource.attributes)
            header = self._encoded[resource_id] = delimited(_RESOURCE, content)
        return header

    def _scope_header(self, scope_id: int) -> bytes:
        header = self._encoded.get(scope_id)
        if header is None:
            scope: InstrumentationScope | None = self._canonical[scope_id][1]
            content = b""
            if scope is not None:
                if scope.name:
                    content += delimited(_SCOPE_NAME, text(scope.name))
                if scope.version:
                    content += delimited(_SCOPE_VERSION, text(scope.version))
                content += self._attributes_of(_SCOPE_ATTRIBUTE, scope.attributes)
            header = self._encoded[scope_id] = delimited(_SCOPE, content)
        return header

    @staticmethod
    def _schema_url(owner: Resource | InstrumentationScope | None) -> bytes:
        schema_url = getattr(owner, "schema_url", None)
        return delimited(_SCHEMA_URL, text(schema_url)) if schema_url else b""


_UNSET_STATUS = delimited(_STATUS, b"")


def _status(status: Status) -> bytes:
    code = status.status_code
    description = status.description
    if code is StatusCode.UNSET and not description:
        return _UNSET_STATUS
    content = delimited(_STATUS_MESSAGE, text(description)) if description else b""
    if code.value:
        content += _STATUS_CODE + varint(code.value)
    return delimited(_STATUS, content)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """Encode ``spans`` with a fresh encoder (no cache carried between calls)."""
    return SpanEncoder().encode(spans)
