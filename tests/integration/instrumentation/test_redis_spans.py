"""Redis client spans and the duration histogram, against a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import redis.asyncio

from otel_flux.instrumentation import redis as flux_redis
from tests.support.otel import Telemetry, make_telemetry
from tests.support.servers import RedisServer


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    telemetry = make_telemetry()
    flux_redis.uninstrument()
    flux_redis.instrument(telemetry.tracer_provider, telemetry.meter_provider)
    yield telemetry
    flux_redis.uninstrument()


def test_sync_command_span(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("test:sync:key", "secret-value")
    client.close()

    span = telemetry.spans()[-1]

    assert span.name == "SET"
    assert span.kind.name == "CLIENT"
    assert span.attributes is not None
    assert span.attributes["db.system.name"] == "redis"
    assert span.attributes["db.operation.name"] == "SET"
    assert span.attributes["db.query.text"] == "SET ? ?"
    assert span.attributes["server.port"] == redis_server.port


async def test_async_command_span(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.get("test:async:key")
    await client.aclose()

    names = [span.name for span in telemetry.spans()]

    assert names[-1] == "GET"


async def test_async_pipeline_is_one_span(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    async with client.pipeline(transaction=False) as pipe:
        pipe.incr("test:pipe:a")
        pipe.expire("test:pipe:a", 30)
        pipe.get("test:pipe:a")
        await pipe.execute()
    await client.aclose()

    span = telemetry.spans()[-1]

    assert span.name == "PIPELINE"
    assert span.attributes is not None
    assert span.attributes["db.operation.batch.size"] == 3
    assert span.attributes["db.query.text"] == "INCRBY ? ?\nEXPIRE ? ?\nGET ?"


def test_sync_transaction_span(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    with client.pipeline() as pipe:
        pipe.set("test:tx", 1)
        pipe.get("test:tx")
        pipe.execute()
    client.close()

    assert telemetry.spans()[-1].name == "MULTI"


def test_credentials_never_in_attributes(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    # Without a configured password Redis rejects both; the span is still created.
    with pytest.raises(redis.AuthenticationError):
        client.execute_command("AUTH", "hunter2-password")
    client = redis.Redis.from_url(redis_server.url)
    with pytest.raises(redis.RedisError):
        client.execute_command("HELLO", "3", "AUTH", "admin", "hunter2-password")
    client.close()

    exported = repr([(span.name, dict(span.attributes or {})) for span in telemetry.spans()])

    assert "hunter2" not in exported
    assert "admin" not in exported


def test_error_recorded(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("test:err:str", "x")
    with pytest.raises(redis.ResponseError):
        client.incr("test:err:str")
    client.close()

    span = telemetry.spans()[-1]
    points = telemetry.histogram_points("db.client.operation.duration")
    error_points = [p for p in points if p.attributes.get("error.type")]

    assert span.status.status_code.name == "ERROR"
    assert [p.attributes["error.type"] for p in error_points] == ["ResponseError"]


def test_histogram_by_command(telemetry: Telemetry, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    for _ in range(3):
        client.get("test:hist")
    client.set("test:hist", 1)
    client.close()

    points = telemetry.histogram_points("db.client.operation.duration")
    counts = {p.attributes["db.operation.name"]: p.count for p in points}

    assert counts["GET"] == 3
    assert counts["SET"] == 1
    assert all(p.attributes["db.system.name"] == "redis" for p in points)


def test_spans_are_children_of_current_span(
    telemetry: Telemetry, redis_server: RedisServer
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    client = redis.Redis.from_url(redis_server.url)
    with tracer.start_as_current_span("parent") as parent:
        client.ping()
    client.close()

    ping = next(span for span in telemetry.spans() if span.name == "PING")

    assert ping.parent is not None
    assert ping.parent.span_id == parent.get_span_context().span_id


def test_instrument_twice_makes_one_span(telemetry: Telemetry, redis_server: RedisServer) -> None:
    flux_redis.instrument(telemetry.tracer_provider, telemetry.meter_provider)
    client = redis.Redis.from_url(redis_server.url)
    client.ping()
    client.close()

    assert [span.name for span in telemetry.spans()].count("PING") == 1
