"""JSON responses of the security middleware.

The bodies of an address block and an account lock are the same, so a client
cannot tell whether an identifier names an account or has been targeted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = Sequence[tuple[bytes, bytes]]


async def send_json(
    send: Send, status: int, error: str, message: str, headers: Headers = ()
) -> None:
    """Send a complete JSON response with ``error`` and ``message`` fields."""
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def retry_after(seconds: int) -> tuple[bytes, bytes]:
    return (b"retry-after", str(seconds).encode())


async def banned(send: Send, retry_seconds: int) -> None:
    await send_json(
        send,
        403,
        "banned",
        "Requests from this address are blocked for a while.",
        [retry_after(retry_seconds)],
    )


async def rate_limited(send: Send, retry_seconds: int, rate_headers: Headers) -> None:
    await send_json(
        send,
        429,
        "rate_limited",
        "Too many requests; retry after the time in Retry-After.",
        [retry_after(retry_seconds), *rate_headers],
    )


async def too_many_attempts(send: Send, retry_seconds: int) -> None:
    await send_json(
        send,
        429,
        "too_many_login_attempts",
        "Too many failed logins; retry after the time in Retry-After.",
        [retry_after(retry_seconds)],
    )


async def unavailable(send: Send, retry_seconds: int) -> None:
    await send_json(
        send,
        503,
        "unavailable",
        "The request cannot be checked right now; retry after the time in Retry-After.",
        [retry_after(retry_seconds)],
    )


async def body_too_large(send: Send, limit: int) -> None:
    await send_json(send, 413, "body_too_large", f"The login request body exceeds {limit} bytes.")
