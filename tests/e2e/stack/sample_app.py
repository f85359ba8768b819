"""A minimal ASGI app that replaces the sample service in the stack tests.

It returns 200 for /health with 200 and every other path with 404, which is all the
stack needs to start the service and send it traffic.
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/health" else 404
    body = b'{"status": "ok"}' if status == 200 else b'{"error": "not_found"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
