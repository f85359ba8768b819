"""Helpers shared by the security integration tests: a tiny app and an ASGI driver."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from otel_flux.security import SecurityConfig, SecurityMiddleware

PASSWORD = "correct horse battery staple"
VICTIM_EMAIL = "victim@example.com"


def make_config(**overrides: Any) -> SecurityConfig:
    """Return a config for tests: a fixed HMAC key and roomy Redis timeouts."""
    values: dict[str, Any] = {
        "hmac_key": b"test-hmac-key",
        "redis_timeout_ms": 2000.0,
        "redis_retry_interval": 0.0,
    }
    values.update(overrides)
    return SecurityConfig(**values)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    app_body: bytes | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoginApp:
    """A tiny ASGI app: POST /api/auth/login checks a password, other paths return 200."""

    password: str = PASSWORD
    calls: int = 0
    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        status = 200
        if scope["path"] == "/api/auth/login":
            document = json.loads(body or b"{}")
            # Unknown users and wrong passwords get the same response.
            status = 200 if document.get("password") == self.password else 401
        payload = b'{"ok": true}' if status == 200 else b'{"error": "invalid credentials"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def call(
    app: Any,
    method: str = "GET",
    path: str = "/items",
    client: str = "203.0.113.10",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> Response:
    """Drive one HTTP request through an ASGI app and collect the response."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": (client, 40000),
        "headers": headers or [],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    messages: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    response_headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    content = b"".join(m.get("body", b"") for m in messages[1:])
    return Response(start["status"], response_headers, content)


def login_body(email: str, password: str) -> bytes:
    return json.dumps({"email": email, "password": password}).encode()


JSON = [(b"content-type", b"application/json")]


async def login(app: Any, client: str, email: str, password: str) -> Response:
    return await call(app, "POST", "/api/auth/login", client, JSON, login_body(email, password))


def make_middleware(redis: Redis, **overrides: Any) -> tuple[SecurityMiddleware, LoginApp]:
    inner = LoginApp()
    return SecurityMiddleware(inner, redis=redis, config=make_config(**overrides)), inner
