"""A small Starlette app with a slow route, served by the stack in the alert tests.

``GET /slow`` sleeps ``SLOW_S`` seconds, longer than the default
FLUX_ALERT_HTTP_P99_MS of 1000 ms, so a burst of it trips the latency alert
without lowering any product threshold. ``GET /fast`` returns at once. Both
read and write one Redis key, so the Redis latency rules see traffic too.
"""

from __future__ import annotations

import asyncio
import os

import redis.asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SLOW_S = 1.2

_client = redis.asyncio.Redis.from_url(os.environ.get("FLUX_REDIS_URL", "redis://127.0.0.1:6379/0"))


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def fast(request: Request) -> JSONResponse:
    hits = await _client.incr("alerts-app:fast")
    return JSONResponse({"hits": hits})


async def slow(request: Request) -> JSONResponse:
    hits = await _client.incr("alerts-app:slow")
    await asyncio.sleep(SLOW_S)
    return JSONResponse({"hits": hits, "slept_s": SLOW_S})


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/fast", fast),
        Route("/slow", slow),
    ]
)
