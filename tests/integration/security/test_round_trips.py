"""Redis round trips per request, read from MONITOR on the test's own server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from security_helpers import PASSWORD, call, login, make_middleware

SENTINEL = "round-trip-test-end"


@pytest.fixture
async def app_redis(redis: Redis) -> AsyncIterator[Redis]:
    """A separate client for the middleware, so the monitoring client's own
    connections never appear among the middleware's commands."""
    kwargs = redis.connection_pool.connection_kwargs
    client = Redis(host=kwargs["host"], port=kwargs["port"])
    yield client
    await client.aclose()


async def commands_sent(redis: Redis, action: Callable[[], Awaitable[Any]]) -> list[str]:
    """Return the commands clients sent while ``action`` ran, without script internals."""
    seen: list[str] = []
    # Two pooled connections: MONITOR takes one, the sentinel ECHO reuses the other.
    await asyncio.gather(redis.ping(), redis.ping())
    async with redis.monitor() as monitor:
        await action()
        await redis.echo(SENTINEL)
        while True:
            entry = await asyncio.wait_for(monitor.next_command(), 5)
            if SENTINEL in entry["command"]:
                break
            if entry.get("client_type") != "lua":
                seen.append(entry["command"].split()[0].upper())
    return seen


async def test_general_request_one_round_trip(redis: Redis, app_redis: Redis) -> None:
    """A general request costs one EVALSHA."""
    app, _ = make_middleware(app_redis)
    await call(app)  # opens the connection and loads the script

    sent = await commands_sent(redis, lambda: call(app))

    assert sent == ["EVALSHA"]


async def test_successful_login_one_round_trip(redis: Redis, app_redis: Redis) -> None:
    """A successful login costs one EVALSHA."""
    app, _ = make_middleware(app_redis)
    await call(app)

    sent = await commands_sent(redis, lambda: login(app, "203.0.113.4", "a@b.c", PASSWORD))

    assert sent == ["EVALSHA"]


async def test_failed_login_two_round_trips(redis: Redis, app_redis: Redis) -> None:
    """A failed login costs the check and one more call to record it."""
    app, _ = make_middleware(app_redis)
    await call(app)
    await login(app, "203.0.113.4", "a@b.c", "wrong")

    sent = await commands_sent(redis, lambda: login(app, "203.0.113.4", "a@b.c", "wrong"))

    assert sent == ["EVALSHA", "EVALSHA"]


async def test_flushed_script_reloaded_once(redis: Redis, app_redis: Redis) -> None:
    """After SCRIPT FLUSH one request sends EVAL once; the next is one EVALSHA again."""
    app, _ = make_middleware(app_redis)
    await call(app)
    await redis.script_flush()

    first = await commands_sent(redis, lambda: call(app))
    second = await commands_sent(redis, lambda: call(app))

    assert first == ["EVALSHA", "EVAL"]
    assert second == ["EVALSHA"]
