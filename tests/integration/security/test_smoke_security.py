"""Basic behaviour of the middleware against a real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from security_helpers import LoginApp, call, login, make_config, make_middleware

from otel_flux.security import SecurityMiddleware, request_cache


async def test_allowed_request_reaches_app(redis: Redis) -> None:
    """An ordinary request passes through and carries the RateLimit headers."""
    app, inner = make_middleware(redis, rate_limit=3)

    response = await call(app)

    assert response.status == 200
    assert inner.calls == 1
    assert response.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert response.headers["ratelimit"].startswith('"default";r=2;t=')


async def test_login_body_replayed_to_app(redis: Redis) -> None:
    """The login body read by the middleware reaches the app unchanged."""
    app, inner = make_middleware(redis)

    response = await login(app, "203.0.113.5", "a@example.com", "wrong")

    assert response.status == 401
    assert inner.bodies == [b'{"email": "a@example.com", "password": "wrong"}']


async def test_rate_limited_request_gets_429(redis: Redis) -> None:
    """The request over the limit gets 429 with Retry-After and RateLimit headers."""
    app, inner = make_middleware(redis, rate_limit=2)
    for _ in range(2):
        await call(app)

    response = await call(app)

    assert response.status == 429
    assert inner.calls == 2
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-policy"] == '"default";q=2;w=60'
    assert response.headers["ratelimit"].startswith('"default";r=0;t=')
    assert response.json()["error"] == "rate_limited"


async def test_nested_middleware_reuses_verdict(redis: Redis) -> None:
    """A second middleware in the same request reuses the cached verdict."""
    inner_app, inner = make_middleware(redis, rate_limit=1)
    outer_app, _ = make_middleware(redis, rate_limit=1)
    outer_app.app = inner_app

    first = await call(outer_app)
    second = await call(outer_app)

    assert first.status == 200
    assert second.status == 429
    assert inner.calls == 1


def test_request_cache_created_once() -> None:
    """request_cache returns the same object for one scope."""
    scope: dict[str, object] = {}

    assert request_cache(scope) is request_cache(scope)


async def test_default_client_from_url(
    redis: Redis, redis_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a client the middleware connects to FLUX_REDIS_URL."""
    # The redis fixture empties the database before the test.
    monkeypatch.setenv("FLUX_REDIS_URL", f"redis://127.0.0.1:{redis_port}/0")
    app = SecurityMiddleware(LoginApp(), config=make_config(rate_limit=1))

    statuses = [(await call(app)).status for _ in range(2)]
    await app.aclose()

    assert statuses == [200, 429]
