"""Lean spans for otel_flux's own instrumentation, on the SDK's pipeline.

The server and Redis instrumentation start two spans per request, so the cost of
a span counts. The SDK's ``Span`` takes about 21 us from start to end on one AMD
EPYC core (SDK 1.45.2): a lock, a ``BoundedAttributes`` that re-checks every
value, two bounded lists, and a copy of the whole span when it ends.
:class:`LeanSpan` is an SDK ``Span`` built without those: attributes sit in a
plain dict, event and link lists are made on first use, and the span itself goes
to the span processors when it ends, since nothing changes it afterwards.

Everything else is the SDK's: the provider's sampler, ID generator, resource,
span limits, tracer configuration and span processors. So ``OTEL_TRACES_SAMPLER``,
``OTEL_SPAN_*_LIMIT`` and every exporter work as usual. A span started with the
SDK's tracer inside a request is a child of the lean server span.

``FLUX_FAST_PATH=false`` turns the lean spans off; the instrumentation then uses
the SDK's tracer.

NOTE: without the SDK's lock, two threads that end the same span at the same
moment could both pass it to the processors. otel_flux ends its spans on the
thread that started them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from time import time_ns
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import _clean_attribute_value, _is_non_custom_str
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import Event, SpanLimits
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Decision
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

from otel_flux.instrumentation.config import FAST_PATH

_logger = logging.getLogger(__name__)

_PLAIN_VALUES = frozenset((str, bool, int, float))
# The status of every span until set_status; the encoder compares it by identity.
UNSET = Status(StatusCode.UNSET)

# trace flags by (sampled, random trace id); W3C Trace Context level 2 sets the
# random flag when the trace id is random, as the SDK does.
_FLAGS = {
    (sampled, random): TraceFlags(
        (TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        | (TraceFlags.RANDOM_TRACE_ID if random else 0)
    )
    for sampled in (False, True)
    for random in (False, True)
}


class LeanSpan(sdk_trace.Span):
    """An SDK span without per-span locks and bounded containers; see the module."""

    # Only ``Span.start`` uses a lock, and the tracer never calls it.
    _lock = threading.Lock()

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        start_time: int,
        record_exception: bool,
        set_status_on_exception: bool,
        record_end_metrics: Any,
    ) -> None:
        # The SDK's __init__ is skipped on purpose; these are the fields its
        # methods and ReadableSpan's properties read.
        sdk = tracer.sdk_tracer
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._resource = sdk.resource
        self._instrumentation_info = sdk.instrumentation_info
        self._instrumentation_scope = tracer.scope
        self._sampler = sdk.sampler
        self._trace_config = None
        self._span_processor = sdk.span_processor
        self._limits = tracer.limits
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception
        self._record_end_metrics = record_end_metrics
        self._status = UNSET
        self._start_time = start_time
        self._end_time: int | None = None
        self._attributes: dict[str, types.AttributeValue] = {}
        self._dropped_attributes = 0
        self._events: Sequence[Event] = ()
        self._links: Sequence[Link] = ()
        self._max_attributes = tracer.max_attributes
        self._max_length = tracer.max_length

    def _ended(self, message: str) -> bool:
        """Return whether the span has ended, logging ``message`` if it has, as the SDK does."""
        if self._end_time is None:
            return False
        _logger.warning(message)
        return True

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._ended("Setting attribute on ended span."):
            return
        self._store(key, value)

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._ended("Setting attribute on ended span."):
            return
        for key, value in attributes.items():
            if key and not isinstance(key, str) and _is_non_custom_str(key):
                # As in the SDK's set_attributes: a key such as 5 becomes "5".
                key = str(key)
            self._store(key, value)

    def _store(self, key: str, value: Any) -> None:
        if not key or not isinstance(key, str):
            _logger.warning("invalid attribute key %r: must be a non-empty string; dropped", key)
            self._dropped_attributes += 1
            return
        if value.__class__ not in _PLAIN_VALUES or self._max_length is not None:
            # The SDK's cleaning: sequences to tuples, mappings copied, other
            # objects to str, strings cut to the length limit.
            value = _clean_attribute_value(value, self._max_length)
        attributes = self._attributes
        if key in attributes:
            # The SDK moves a key that is set again to the end, as the newest.
            del attributes[key]
        elif len(attributes) >= self._max_attributes:
            if self._max_attributes == 0:
                self._dropped_attributes += 1
                return
            # The SDK drops the oldest attribute to make room; so does this.
            del attributes[next(iter(attributes))]
            self._dropped_attributes += 1
        attributes[key] = value

    def _add_event(self, event: Any) -> None:
        if self._ended("Tried calling _add_event on an ended span."):
            return
        if not isinstance(self._events, BoundedList):
            self._events = BoundedList(self._limits.max_events)
        self._events.append(event)

    def _add_link(self, link: Link) -> None:
        if self._ended("Tried calling _add_link on an ended span."):
            return
        if not isinstance(self._links, BoundedList):
            self._links = BoundedList(self._limits.max_links)
        self._links.append(link)

    def update_name(self, name: str) -> None:
        if self._ended("Tried calling update_name on an ended span."):
            return
        self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._ended("Tried calling set_status on an ended span."):
            return
        # As in the SDK: OK is final, and UNSET never replaces a status.
        if self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is StatusCode.UNSET:
                return
            if description is not None:
                _logger.warning(
                    "Description %s ignored. Use either `Status` or `(StatusCode, Description)`",
                    description,
                )
            self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def end(self, end_time: int | None = None) -> None:
        if self._ended("Calling end() on an ended span."):
            return
        self._end_time = end_time if end_time is not None else time_ns()
        if self._record_end_metrics is not None:
            self._record_end_metrics()
        processor = self._span_processor
        processor._on_ending(self)
        # Nothing changes an ended span, so it is its own readable copy.
        processor.on_end(self)


def _plain(attributes: Mapping[Any, Any]) -> bool:
    """Return whether every key is a non-empty str and every value a str, bool, int or float."""
    for key, value in attributes.items():
        if key.__class__ is not str or not key or value.__class__ not in _PLAIN_VALUES:
            return False
    return True


class LeanTracer(trace.Tracer):
    """Starts :class:`LeanSpan` objects with the settings of one SDK tracer."""

    def __init__(self, sdk_tracer: sdk_trace.Tracer) -> None:
        self.sdk_tracer = sdk_tracer
        self.scope = sdk_tracer._instrumentation_scope
        self.limits: SpanLimits = sdk_tracer._span_limits
        max_attributes = self.limits.max_span_attributes
        self.max_attributes = max_attributes if max_attributes is not None else 1 << 62
        self.max_length = self.limits.max_span_attribute_length

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        sdk = self.sdk_tracer
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if not sdk._is_enabled():
            return trace.NonRecordingSpan(context=parent or trace.INVALID_SPAN_CONTEXT)

        generator = sdk.id_generator
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = generator.generate_trace_id()
            random = generator.is_trace_id_random()
        else:
            trace_id = parent.trace_id
            random = parent.trace_flags.random_trace_id

        links = links or ()
        sampler = sdk.sampler
        if sampler is DEFAULT_ON:
            # The default sampler, decided here without building a SamplingResult:
            # follow a parent's decision, sample a root.
            sampled = parent is None or parent.trace_flags.sampled
            decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
            trace_state = parent.trace_state if parent is not None else None
            initial = attributes if sampled else None
        else:
            result = sampler.should_sample(context, trace_id, name, kind, attributes, links)
            decision = result.decision
            sampled = decision.is_sampled()  # type: ignore[no-untyped-call]
            trace_state = result.trace_state
            initial = result.attributes
        span_context = SpanContext(
            trace_id,
            generator.generate_span_id(),
            is_remote=False,
            trace_flags=_FLAGS[sampled, random],
            trace_state=trace_state,
        )
        record_end_metrics = sdk._tracer_metrics.start_span(parent, decision)
        if not decision.is_recording():  # type: ignore[no-untyped-call]
            return trace.NonRecordingSpan(context=span_context)

        span = LeanSpan(
            self,
            name,
            span_context,
            parent,
            kind,
            start_time if start_time is not None else time_ns(),
            record_exception,
            set_status_on_exception,
            record_end_metrics,
        )
        if initial:
            if self.max_length is None and len(initial) <= self.max_attributes and _plain(initial):
                # Nothing to clean, drop or convert: the SDK would keep the items as
                # they are, in this order.
                span._attributes = dict(initial)
            else:
                span.set_attributes(initial)
        if links:
            span._links = span._new_links(links)
        sdk.span_processor.on_start(span, parent_context=context)
        return span

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


def get_tracer(
    name: str,
    version: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> trace.Tracer:
    """Return a lean tracer on an SDK provider, else the provider's own tracer."""
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    tracer = provider.get_tracer(name, version)
    if isinstance(tracer, sdk_trace.Tracer) and FAST_PATH.read():
        return LeanTracer(tracer)
    return tracer
