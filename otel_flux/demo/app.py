"""flux-auth: a small login and file service on Redis, with no OpenTelemetry code.

Everything it reports comes from running it under ``opentelemetry-instrument``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_flux.demo import config, users
from otel_flux.security import SecurityMiddleware
from otel_flux.settings import REDIS_URL

_logger = logging.getLogger(__name__)

_FILES_KEY = "flux:demo:files"
_SESSION_PREFIX = "flux:demo:session:"
_MAX_BODY_BYTES = 16 * 1024
_MAX_EMAIL = 254
_MAX_PASSWORD = 1024

DEMO_FILES = (
    {"id": "1", "name": "quarterly-report.pdf", "size": 482_113},
    {"id": "2", "name": "architecture.png", "size": 120_774},
    {"id": "3", "name": "notes.txt", "size": 2_310},
    {"id": "4", "name": "budget.xlsx", "size": 58_240},
)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def _unavailable() -> Response:
    return _error(
        503,
        "unavailable",
        "the user store is unavailable; retry after the interval in Retry-After",
        {"Retry-After": "5"},
    )


async def _seed_files(redis: Redis) -> None:
    await redis.hset(_FILES_KEY, mapping={str(f["id"]): json.dumps(f) for f in DEMO_FILES})


async def _seed(redis: Redis, hasher: users.PasswordHasher) -> None:
    for email, password in users.DEMO_USERS.items():
        if not await redis.exists(users.user_key(email)):
            await users.create_user(redis, hasher, email, password)
    await _seed_files(redis)


async def _restore_demo_user(
    redis: Redis, hasher: users.PasswordHasher, email: str
) -> dict[Any, Any]:
    """Recreate a demo user lost with Redis's data (the local stack keeps none on disk)."""
    password = users.DEMO_USERS.get(email.strip().lower())
    if password is None:
        return {}
    _logger.warning("demo user data missing from Redis; creating the demo users again")
    await users.create_user(redis, hasher, email.strip().lower(), password)
    record: dict[Any, Any] = await redis.hgetall(users.user_key(email))
    return record


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # The client is created with the app so the security middleware shares it;
    # connections open on first use, inside the event loop.
    redis: Redis = app.state.redis
    hasher = users.PasswordHasher(config.SCRYPT_COST.read())
    app.state.hasher = hasher
    try:
        await _seed(redis, hasher)
    except (RedisError, OSError) as exc:
        # The service still starts; requests that need Redis get 503 until it is back.
        _logger.warning("could not create the demo users in Redis: %s", exc)
    try:
        yield
    finally:
        await redis.aclose()


async def _read_credentials(request: Request) -> tuple[str, str] | Response:
    body = await request.body()
    if len(body) > _MAX_BODY_BYTES:
        return _error(413, "body_too_large", f"the request body exceeds {_MAX_BODY_BYTES} bytes")
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(
            400,
            "invalid_json",
            'the request body must be a JSON object such as {"email": "...", "password": "..."}',
        )
    if not isinstance(data, dict):
        return _error(400, "invalid_json", "the request body must be a JSON object")
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not email or not isinstance(password, str) or not password:
        missing = [
            name
            for name, value in (("email", email), ("password", password))
            if not isinstance(value, str) or not value
        ]
        return _error(
            400,
            "missing_fields",
            f"missing or non-string field(s): {', '.join(missing)}; both must be non-empty strings",
        )
    if len(email) > _MAX_EMAIL or len(password) > _MAX_PASSWORD:
        return _error(
            400,
            "field_too_long",
            f"email must be at most {_MAX_EMAIL} and password at most {_MAX_PASSWORD} characters",
        )
    return email, password


async def login(request: Request) -> Response:
    credentials = await _read_credentials(request)
    if isinstance(credentials, Response):
        return credentials
    email, password = credentials

    redis = _redis(request)
    hasher: users.PasswordHasher = request.app.state.hasher
    try:
        record = await redis.hgetall(users.user_key(email))
        if not record:
            record = await _restore_demo_user(redis, hasher, email)
    except (RedisError, OSError):
        return _unavailable()

    # scrypt runs in a worker thread so the event loop keeps serving other requests.
    if not await asyncio.to_thread(users.verify, hasher, password, record):
        # The same response for an unknown user and a wrong password.
        return _error(401, "invalid_credentials", "the email or password is incorrect")

    token = secrets.token_urlsafe(32)
    ttl = config.SESSION_TTL_S.read()
    token_key = _SESSION_PREFIX + hashlib.sha256(token.encode()).hexdigest()
    try:
        await redis.set(token_key, users.user_key(email), ex=ttl)
    except (RedisError, OSError):
        return _unavailable()
    return JSONResponse({"token": token, "token_type": "bearer", "expires_in": ttl})


async def list_files(request: Request) -> Response:
    redis = _redis(request)
    try:
        raw = await redis.hvals(_FILES_KEY)
        if not raw:
            # Redis lost its data (a restart without persistence): restore the files.
            await _seed_files(redis)
            raw = await redis.hvals(_FILES_KEY)
    except (RedisError, OSError):
        return _unavailable()
    files = sorted((json.loads(item) for item in raw), key=lambda f: int(f["id"]))
    return JSONResponse({"files": files})


async def get_file(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    redis = _redis(request)
    try:
        raw = await redis.hget(_FILES_KEY, file_id)
        if raw is None and not await redis.exists(_FILES_KEY):
            await _seed_files(redis)
            raw = await redis.hget(_FILES_KEY, file_id)
    except (RedisError, OSError):
        return _unavailable()
    if raw is None:
        return _error(404, "not_found", f"no file with id {file_id[:64]!r}")
    return JSONResponse(json.loads(raw))


async def health(request: Request) -> Response:
    try:
        await _redis(request).ping()
    except (RedisError, OSError):
        return JSONResponse({"status": "degraded", "redis": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok"})


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        return _error(405, "method_not_allowed", f"{request.method} is not allowed here")
    return _error(status, "not_found", "no such endpoint")


def create_app() -> Starlette:
    routes = [
        Route("/api/auth/login", login, methods=["POST"]),
        Route("/api/files", list_files, methods=["GET"]),
        Route("/api/files/{file_id}", get_file, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    # A blocking pool makes a burst of requests wait up to 2 s for a connection.
    # redis-py's default pool raises at once past 100 connections, so those
    # requests would get 503 although Redis is healthy.
    pool = BlockingConnectionPool.from_url(
        REDIS_URL.read(),
        max_connections=200,
        timeout=2.0,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
    )
    redis = Redis.from_pool(pool)  # the client owns the pool and closes it
    middleware = []
    if config.SECURITY_ENABLED.read():
        middleware.append(Middleware(SecurityMiddleware, redis=redis))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.redis = redis
    return app


app = create_app()
