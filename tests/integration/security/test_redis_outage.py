"""Redis outages: bounded time, fail-open general routes, fail-closed login."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from security_helpers import PASSWORD, LoginApp, call, login, make_config

from otel_flux.security import SecurityMiddleware

# Generous bound for "finished": the timeout is 100 ms, and a hang never finishes.
FINISHED_WITHIN = 5.0


class NeverAnswers:
    """A loopback TCP server that accepts connections and never replies."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._swallow, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        await reader.read()  # returns only when the client disconnects

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def blackhole() -> AsyncIterator[NeverAnswers]:
    server = NeverAnswers()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def stopped_port() -> int:
    """A loopback port with nothing listening, as after Redis stopped."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(params=["blackhole", "stopped"])
async def unreachable_port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    """A Redis port that either never replies or refuses connections."""
    if request.param == "stopped":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        yield port
        return
    server = NeverAnswers()
    yield await server.start()
    await server.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[Redis]]:
    """Redis clients made by a test, closed after it."""
    created: list[Redis] = []
    yield created
    for client in created:
        await client.aclose()


def outage_app(
    clients: list[Redis], port: int, **overrides: object
) -> tuple[SecurityMiddleware, LoginApp]:
    redis = Redis(host="127.0.0.1", port=port, socket_timeout=0.1, socket_connect_timeout=0.1)
    clients.append(redis)
    inner = LoginApp()
    config = make_config(redis_timeout_ms=100.0, **overrides)
    return SecurityMiddleware(inner, redis=redis, config=config), inner


async def test_outage_general_route_passes(unreachable_port: int, clients: list[Redis]) -> None:
    """With Redis unreachable a general route returns 200 within the bound."""
    app, inner = outage_app(clients, unreachable_port)

    started = time.monotonic()
    response = await asyncio.wait_for(call(app), FINISHED_WITHIN)
    elapsed = time.monotonic() - started

    assert response.status == 200
    assert inner.calls == 1
    assert elapsed < FINISHED_WITHIN


async def test_outage_login_returns_503(unreachable_port: int, clients: list[Redis]) -> None:
    """With Redis unreachable a login returns 503 with Retry-After, not 500."""
    app, inner = outage_app(clients, unreachable_port)

    response = await asyncio.wait_for(
        login(app, "203.0.113.3", "a@example.com", PASSWORD), FINISHED_WITHIN
    )

    assert response.status == 503
    assert response.headers["retry-after"] == "1"
    assert inner.calls == 0


async def test_outage_backoff_skips_redis(blackhole: NeverAnswers, clients: list[Redis]) -> None:
    """After one timeout, requests within the retry interval do not touch Redis."""
    port = blackhole.port
    now = [0.0]
    redis = Redis(host="127.0.0.1", port=port, socket_timeout=0.1, socket_connect_timeout=0.1)
    clients.append(redis)
    config = make_config(redis_timeout_ms=100.0, redis_retry_interval=5.0)
    app = SecurityMiddleware(LoginApp(), redis=redis, config=config, clock=lambda: now[0])

    statuses = [(await call(app)).status for _ in range(5)]
    attempts_during_backoff = blackhole.connections
    now[0] = 6.0
    await call(app)

    assert statuses == [200] * 5
    assert attempts_during_backoff == 1
    assert blackhole.connections == 2


async def test_login_policy_allow_on_error(stopped_port: int, clients: list[Redis]) -> None:
    """The login policy can be set to let logins through when Redis fails."""
    app, inner = outage_app(clients, stopped_port, login_on_redis_error="allow")

    response = await login(app, "203.0.113.3", "a@example.com", PASSWORD)

    assert response.status == 200
    assert inner.calls == 1


async def test_general_policy_reject_on_error(stopped_port: int, clients: list[Redis]) -> None:
    """The general policy can be set to reject requests when Redis fails."""
    app, inner = outage_app(clients, stopped_port, on_redis_error="reject")

    response = await call(app)

    assert response.status == 503
    assert inner.calls == 0
