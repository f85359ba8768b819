"""Reading the login body without changing the application.

The middleware reads the body of a login request (up to a bounded size), takes
the identifier field from it, and hands the same bytes to the application
through a replaying ``receive``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


@dataclass(frozen=True, slots=True)
class LoginBody:
    """The buffered body; ``too_large`` means reading stopped at the limit."""

    body: bytes
    too_large: bool = False
    disconnected: bool = False


async def read_body(scope: MutableMapping[str, Any], receive: Receive, limit: int) -> LoginBody:
    """Read the whole request body, stopping once it exceeds ``limit`` bytes."""
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        return LoginBody(b"", too_large=True)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return LoginBody(b"", disconnected=True)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return LoginBody(b"", too_large=True)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return LoginBody(b"".join(chunks))


def replay(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that yields ``body`` once, then defers to ``receive``."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def extract_identifier(scope: MutableMapping[str, Any], body: bytes, field: str) -> str | None:
    """Return the string value of ``field`` in a JSON or form body, else None."""
    content_type = _header(scope, b"content-type").split(";", 1)[0].strip().lower()
    value: object = None
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if isinstance(document, dict):
            value = document.get(field)
    elif content_type == "application/x-www-form-urlencoded":
        try:
            values = parse_qs(body.decode("utf-8"), max_num_fields=100).get(field)
        except (UnicodeDecodeError, ValueError):
            return None
        value = values[0] if values else None
    if isinstance(value, str) and value.strip():
        return value
    return None


def _header(scope: MutableMapping[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    text = _header(scope, b"content-length").strip()
    return int(text) if text.isdigit() else None
