"""Window behaviour in Redis: atomicity, shared timestamps, TTLs, app clocks."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from security_helpers import JSON, PASSWORD, call, login_body, make_config, make_middleware

from otel_flux.security import SecurityMiddleware, scripts
from otel_flux.security.ratelimit import RateLimitPolicy, counter_retry_after
from otel_flux.security.store import SecurityStore


@pytest.mark.parametrize("path", ["/items", "/api/auth/login"])
async def test_concurrent_requests_allow_exactly_limit(redis: Redis, path: str) -> None:
    """50 concurrent requests on one key with limit 5 admit exactly 5, 100 times over."""
    # No reputation penalty, so 45 rejections do not turn into a ban here.
    app, _ = make_middleware(redis, rate_limit=5, login_rate_limit=5, rate_limit_penalty=0)
    method = "POST" if path.startswith("/api") else "GET"
    body = login_body("owner@example.com", PASSWORD)

    for repetition in range(100):
        client = f"10.{repetition // 250}.{repetition % 250}.1"
        responses = await asyncio.gather(
            *(call(app, method, path, client, JSON, body) for _ in range(50))
        )
        statuses = [response.status for response in responses]

        assert statuses.count(200) == 5, repetition
        assert statuses.count(429) == 45, repetition


async def test_shared_timestamp_counted_separately(redis: Redis) -> None:
    """Hits stored in the same millisecond are separate log entries."""
    store = SecurityStore(redis, make_config())
    policy = RateLimitPolicy("login", "log", 100, 60.0)
    await store.check("192.0.2.1", policy, False, None)  # loads the script

    for _ in range(20):
        await redis.delete("flux:sec:rl:login:192.0.2.9")
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(10):
                keys = [f"k{i}" for i in range(4)] + ["flux:sec:rl:login:192.0.2.9", "a", "b"]
                args = [
                    "log",
                    100,
                    60000,
                    f"m{time.perf_counter_ns()}",
                    0,
                    0,
                    5,
                    1000,
                    "0.001",
                    5,
                    100,
                    1000,
                    2000,
                    0,
                    1000,
                ]
                pipe.evalsha(scripts.CHECK.sha, len(keys), *keys, *args)
            await pipe.execute()
        entries = await redis.zrange("flux:sec:rl:login:192.0.2.9", 0, -1, withscores=True)
        if len({score for _, score in entries}) < len(entries):
            break
    else:
        pytest.fail("no two hits in 20 pipelines shared a millisecond")

    assert len(entries) == 10


async def test_every_key_expires_back_to_baseline(redis: Redis) -> None:
    """Every key has a TTL and the key count returns to its baseline afterwards."""
    app, _ = make_middleware(
        redis,
        rate_limit=2,
        rate_limit_window=0.3,
        login_rate_limit_window=0.3,
        brute_force_window=0.3,
        brute_force_threshold=2,
        ban_base=0.2,
        ban_max=0.4,
        offence_memory=0.5,
        reputation_recovery_per_minute=6000.0,
        rate_limit_penalty=50,
    )
    baseline = await redis.dbsize()
    for client in ("192.0.2.1", "192.0.2.2", "2001:db8::1"):
        for _ in range(4):
            await call(app, client=client)
            await call(app, "POST", "/api/auth/login", client, JSON, login_body("a@b.c", "x"))

    keys = [key async for key in redis.scan_iter("*")]
    ttls = {key: await redis.pttl(key) for key in keys}

    kinds = {key.decode().split(":")[2] for key in keys}
    assert kinds >= {"ban", "rep", "offences", "rl", "fail"}
    assert [key for key, ttl in ttls.items() if ttl <= 0] == []
    # Redis time is real, so the test polls until the short windows have passed.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if await redis.dbsize() <= baseline:
            break
        await asyncio.sleep(0.1)
    assert await redis.dbsize() == baseline


async def test_skewed_app_clocks_share_one_limit(redis: Redis) -> None:
    """Two instances whose clocks are 30 s apart enforce one shared limit."""
    config = make_config(rate_limit=10, redis_retry_interval=1.0)
    start = time.monotonic()
    first = SecurityMiddleware(
        lambda *a: _ok(*a), redis=redis, config=config, clock=lambda: time.monotonic() - start
    )
    second = SecurityMiddleware(
        lambda *a: _ok(*a),
        redis=redis,
        config=config,
        clock=lambda: time.monotonic() - start + 30.0,
    )

    statuses = [(await call(app)).status for _ in range(10) for app in (first, second)]

    assert statuses.count(200) == 10
    assert statuses[:10] == [200] * 10


async def _ok(scope: object, receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


async def test_counter_retry_after_matches_model(redis: Redis) -> None:
    """The Lua counter's retry_after agrees with the Python model of the arithmetic."""
    store = SecurityStore(redis, make_config(rate_limit_penalty=0))
    policy = RateLimitPolicy("default", "counter", 3, 10.0)
    for _ in range(3):
        await store.check("192.0.2.50", policy, False, None)

    seconds, micros = await redis.time()
    before_ms = seconds * 1000 + micros // 1000
    verdict = await store.check("192.0.2.50", policy, False, None)
    seconds, micros = await redis.time()
    after_ms = seconds * 1000 + micros // 1000

    window_ms = policy.window_ms
    fields = await redis.hmget("flux:sec:rl:default:192.0.2.50", ["w", "c", "p"])
    index, current, previous = (int(value or 0) for value in fields)
    window_start = index * window_ms
    before = max(0, before_ms - window_start)
    after = min(window_ms, after_ms - window_start)
    latest = counter_retry_after(3, window_ms, before, previous, current)
    earliest = counter_retry_after(3, window_ms, after, previous, current)
    assert verdict.retry_after_ms <= latest
    assert verdict.retry_after_ms >= earliest
