"""Benchmark the latency the security middleware adds to an ASGI app.

Run:  PYTHONPATH=. /work/venv/bin/python tests/benchmarks/bench_security.py [--requests N]

Starts its own redis-server on a free loopback port, then drives the same tiny
app with and without the middleware through direct ASGI calls (no HTTP server),
one request at a time. It prints p50 and p99 latency per request for each, the
difference, and the Redis commands per request taken from INFO commandstats.
Only EVALSHA and EVAL calls count, because commands inside a script are not
round trips. A
plain PING through the same client is timed for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from otel_flux.security import SecurityConfig, SecurityMiddleware

REDIS_SERVER = "/usr/bin/redis-server"
LOGIN_BODY = json.dumps({"email": "bench@example.com", "password": "secret"}).encode()


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    status = 200 if scope["method"] == "GET" or scope.get("bench_ok") else 401
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def make_call(path: str, method: str, client: str, ok: bool) -> Callable[[Any], Awaitable[None]]:
    headers = [(b"content-type", b"application/json")]
    body = LOGIN_BODY if method == "POST" else b""

    async def call(app: Any) -> None:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": headers,
            "client": (client, 50000),
            "query_string": b"",
            "bench_ok": ok,
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        await app(scope, receive, send)

    return call


async def measure(app: Any, call: Callable[[Any], Awaitable[None]], requests: int) -> list[float]:
    for _ in range(min(1000, requests)):
        await call(app)
    samples = []
    for _ in range(requests):
        start = time.perf_counter_ns()
        await call(app)
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return samples


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000, method="inclusive")[round(q * 1000) - 1]


async def script_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


async def run(port: int, requests: int) -> None:
    redis = Redis(host="127.0.0.1", port=port)
    config = SecurityConfig(
        hmac_key=b"bench",
        rate_limit=10**9,
        login_rate_limit=10**9,
        brute_force_threshold=10**9,
        failed_login_penalty=0,
        # A loaded 2-core machine can stall Redis past the 100 ms default, so a
        # longer bound keeps every request on the measured Redis path.
        redis_timeout_ms=2000.0,
        redis_retry_interval=0.0,
    )
    secured = SecurityMiddleware(tiny_app, redis=redis, config=config)
    cases = [
        ("GET /items", make_call("/items", "GET", "192.0.2.1", True)),
        ("POST /api/auth/login, 200", make_call("/api/auth/login", "POST", "192.0.2.2", True)),
        ("POST /api/auth/login, 401", make_call("/api/auth/login", "POST", "192.0.2.3", False)),
    ]
    print(
        f"machine: {platform.machine()}, {os_cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"requests per case: {requests} (after {min(1000, requests)} warm-up)")
    print(
        f"{'case':<28}{'bare p50':>10}{'bare p99':>10}{'mw p50':>10}{'mw p99':>10}"
        f"{'added p50':>11}{'added p99':>11}{'trips/req':>11}"
    )
    for name, call in cases:
        bare = await measure(tiny_app, call, requests)
        before = await script_calls(redis)
        secured_samples = await measure(secured, call, requests)
        after = await script_calls(redis)
        trips = (after - before) / (requests + min(1000, requests))
        bare50, bare99 = percentile(bare, 0.5), percentile(bare, 0.99)
        mw50, mw99 = percentile(secured_samples, 0.5), percentile(secured_samples, 0.99)
        print(
            f"{name:<28}{bare50:>8.1f}us{bare99:>8.1f}us{mw50:>8.1f}us{mw99:>8.1f}us"
            f"{mw50 - bare50:>9.1f}us{mw99 - bare99:>9.1f}us{trips:>11.2f}"
        )
    ping = await measure_ping(redis, requests)
    print(
        f"{'Redis PING alone':<28}{'':>20}{percentile(ping, 0.5):>8.1f}us"
        f"{percentile(ping, 0.99):>8.1f}us   (one loopback round trip, for reference)"
    )
    await redis.aclose()


async def measure_ping(redis: Redis, requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        start = time.perf_counter_ns()
        await redis.ping()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return samples


def os_cpu_count() -> int:
    import os

    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per case")
    args = parser.parse_args()
    if shutil.which(REDIS_SERVER) is None:
        raise SystemExit(f"{REDIS_SERVER} is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.02)
            asyncio.run(run(port, args.requests))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
