"""ASGI apps with no OpenTelemetry import, served under opentelemetry-instrument in tests."""

from __future__ import annotations

import json
import os
from typing import Any

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_redis = Redis.from_url(os.environ.get("FLUX_REDIS_URL", "redis://127.0.0.1:6379/0"))


async def item(request: Request) -> Response:
    value = await _redis.get(f"plain:item:{request.path_params['item_id']}")
    return JSONResponse({"value": value.decode() if value else None})


async def login(request: Request) -> Response:
    body = await request.json()
    async with _redis.pipeline(transaction=False) as pipe:
        pipe.incr(f"plain:login:{body['email']}")
        pipe.expire(f"plain:login:{body['email']}", 60)
        await pipe.execute()
    return JSONResponse({"ok": False}, status_code=401)


app = Starlette(routes=[Route("/items/{item_id}", item), Route("/login", login, methods=["POST"])])


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A framework-free ASGI callable."""
    if scope["type"] != "http":
        return
    body = json.dumps({"path": scope["path"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
