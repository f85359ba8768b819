"""CLIENT spans and a duration histogram for redis-py commands and pipelines.

Why not the upstream Redis instrumentation: it records no
``db.client.operation.duration`` histogram, which the percentiles and the Redis
latency alert are built on. This module keeps the database semantic conventions
(``db.system.name``, ``db.operation.name``, ``db.query.text``, ``db.namespace``,
``server.address``, ``server.port``, ``db.operation.batch.size``) and covers the
sync client, the asyncio client and both pipelines.

Statements never carry values: ``db.query.text`` is the command name followed by
one ``?`` per argument, so ``AUTH``, ``HELLO`` and every key and value stay in
the process. Commands queued on a pipeline are reported on the pipeline's span.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_flux import __version__, tracing
from otel_flux.instrumentation import config
from otel_flux.metrics import direct
from otel_flux.metrics.monitor import get_monitor
from otel_flux.metrics.views import DB_CLIENT_ATTRIBUTES, DB_CLIENT_DURATION, histogram_edges

_logger = logging.getLogger(__name__)

_ORIGINAL = "_otel_flux_original"

# A pipeline span lists at most this many statements; the batch size is exact.
_MAX_PIPELINE_STATEMENTS = 20
_MAX_COMMAND_NAME = 32


def command_name(args: Sequence[Any]) -> str:
    """Return the upper-case command name of a redis-py argument tuple."""
    if not args:
        return "UNKNOWN"
    name = args[0]
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    # redis-py passes some two-word commands as one argument ("CLIENT SETNAME").
    return str(name).split(" ", 1)[0].upper()[:_MAX_COMMAND_NAME]


def sanitized_statement(args: Sequence[Any]) -> str:
    """Return the command with every argument replaced by ``?``."""
    if not args:
        return ""
    first = args[0]
    if isinstance(first, bytes):
        first = first.decode("latin-1")
    words = str(first).split(" ")
    name = " ".join(word.upper()[:_MAX_COMMAND_NAME] for word in words[:2])
    placeholders = len(words) - 2 + len(args) - 1 if len(words) > 2 else len(args) - 1
    return name + " ?" * placeholders


class _Telemetry:
    """Tracer, histogram and per-client connection attributes."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.tracer = tracing.get_tracer("otel_flux.redis", __version__, tracer_provider)
        self.duration = direct.histogram(
            meter_provider,
            "otel_flux.redis",
            __version__,
            DB_CLIENT_DURATION,
            unit="s",
            description="Duration of Redis commands and pipelines, as the client sees them.",
            edges=histogram_edges()[DB_CLIENT_DURATION],
            attribute_keys=DB_CLIENT_ATTRIBUTES,
        )

    @staticmethod
    def connection_attributes(client: Any) -> dict[str, str | int]:
        cached: dict[str, str | int] | None = getattr(client, "_otel_flux_attributes", None)
        if cached is not None:
            return cached
        attributes: dict[str, str | int] = {"db.system.name": "redis"}
        pool = getattr(client, "connection_pool", None)
        kwargs = getattr(pool, "connection_kwargs", {}) or {}
        if "path" in kwargs:
            attributes["server.address"] = str(kwargs["path"])
        else:
            attributes["server.address"] = str(kwargs.get("host", "localhost"))
            attributes["server.port"] = int(kwargs.get("port", 6379))
        attributes["db.namespace"] = str(kwargs.get("db", 0))
        with contextlib.suppress(AttributeError):
            client._otel_flux_attributes = attributes
        return attributes

    def start(self, client: Any, operation: str, statement: str, batch: int) -> trace.Span:
        attributes: dict[str, str | int] = {
            **self.connection_attributes(client),
            "db.operation.name": operation,
            "db.query.text": statement,
        }
        if batch:
            attributes["db.operation.batch.size"] = batch
        return self.tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)

    def finish(
        self,
        client: Any,
        span: trace.Span,
        operation: str,
        started: float,
        error: BaseException | None,
    ) -> None:
        duration = time.perf_counter() - started
        base = self.connection_attributes(client)
        metric_attributes: dict[str, str | int] = {
            "db.system.name": "redis",
            "db.operation.name": operation,
            "server.address": base["server.address"],
        }
        error_type = None
        if error is not None:
            error_type = type(error).__qualname__
            metric_attributes["error.type"] = error_type
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, error_type))
            if isinstance(error, Exception):
                span.record_exception(error)
        span.end()
        self.duration.record(duration, metric_attributes)
        monitor = get_monitor()
        if monitor is not None:
            monitor.record_redis(operation, duration, error_type)


def _pipeline_operation(pipeline: Any) -> tuple[str, str, int]:
    stack = pipeline.command_stack
    statements = [sanitized_statement(entry[0]) for entry in stack[:_MAX_PIPELINE_STATEMENTS]]
    if len(stack) > _MAX_PIPELINE_STATEMENTS:
        statements.append(f"... {len(stack) - _MAX_PIPELINE_STATEMENTS} more")
    # The sync pipeline stores the flag as ``transaction``, the asyncio one as
    # ``is_transaction`` (where ``transaction`` is a method); MULTI also counts.
    flag = getattr(pipeline, "is_transaction", None)
    if not isinstance(flag, bool):
        flag = getattr(pipeline, "transaction", False)
    transaction = (flag is True) or bool(getattr(pipeline, "explicit_transaction", False))
    operation = "MULTI" if transaction else "PIPELINE"
    return operation, "\n".join(statements), len(stack)


# What a wrapped call reports: operation name, statement and batch size, or None
# for a call that is not traced (an empty pipeline).
Description = tuple[str, str, int] | None


# (first argument, argument count) -> description. Both the command name and the
# statement depend on nothing else, and a service uses a few dozen commands.
_DESCRIPTIONS: dict[tuple[Any, int], Description] = {}
_DESCRIPTIONS_LIMIT = 1024


def _describe_command(client: Any, args: tuple[Any, ...]) -> Description:
    key = (args[0] if args else None, len(args))
    try:
        description = _DESCRIPTIONS.get(key)
    except TypeError:  # an unhashable first argument
        return command_name(args), sanitized_statement(args), 0
    if description is None:
        description = command_name(args), sanitized_statement(args), 0
        if len(_DESCRIPTIONS) >= _DESCRIPTIONS_LIMIT:
            _DESCRIPTIONS.clear()
        _DESCRIPTIONS[key] = description
    return description


def _describe_pipeline(pipeline: Any, args: tuple[Any, ...]) -> Description:
    if not pipeline.command_stack:
        return None
    return _pipeline_operation(pipeline)


Describe = Callable[[Any, tuple[Any, ...]], Description]


def _wrap_sync(
    original: Callable[..., Any], telemetry: _Telemetry, describe: Describe
) -> Callable[..., Any]:
    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        description = describe(self, args) if is_instrumentation_enabled() else None
        if description is None:
            return original(self, *args, **kwargs)
        operation, statement, batch = description
        span = telemetry.start(self, operation, statement, batch)
        started = time.perf_counter()
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            telemetry.finish(self, span, operation, started, exc)
            raise
        telemetry.finish(self, span, operation, started, None)
        return result

    return traced


def _wrap_async(
    original: Callable[..., Any], telemetry: _Telemetry, describe: Describe
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        description = describe(self, args) if is_instrumentation_enabled() else None
        if description is None:
            return await original(self, *args, **kwargs)
        operation, statement, batch = description
        span = telemetry.start(self, operation, statement, batch)
        started = time.perf_counter()
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            telemetry.finish(self, span, operation, started, exc)
            raise
        telemetry.finish(self, span, operation, started, None)
        return result

    return traced


Wrap = Callable[[Callable[..., Any], _Telemetry, Describe], Callable[..., Any]]


def _targets() -> list[tuple[type, str, Wrap, Describe]]:
    import redis.asyncio.client as async_client
    import redis.client as sync_client

    return [
        (sync_client.Redis, "execute_command", _wrap_sync, _describe_command),
        (sync_client.Pipeline, "execute", _wrap_sync, _describe_pipeline),
        (async_client.Redis, "execute_command", _wrap_async, _describe_command),
        (async_client.Pipeline, "execute", _wrap_async, _describe_pipeline),
    ]


def instrument(
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Patch the redis-py client classes; calling it twice changes nothing."""
    telemetry = _Telemetry(tracer_provider, meter_provider)
    for cls, attribute, wrap, describe in _targets():
        current = cls.__dict__[attribute]
        if hasattr(current, _ORIGINAL):
            continue
        wrapped = wrap(current, telemetry, describe)
        setattr(wrapped, _ORIGINAL, current)
        setattr(cls, attribute, wrapped)


def uninstrument() -> None:
    """Restore the original redis-py methods."""
    for cls, attribute, _, _ in _targets():
        original = getattr(cls.__dict__[attribute], _ORIGINAL, None)
        if original is not None:
            setattr(cls, attribute, original)


class FluxRedisInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instrumentor registered as ``otel_flux_redis``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("redis >= 4.0",)

    def _instrument(self, **kwargs: Any) -> None:
        if not config.REDIS_ENABLED.read():
            return
        instrument(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))

    def _uninstrument(self, **kwargs: Any) -> None:
        uninstrument()
