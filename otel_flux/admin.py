"""Admin endpoints serving the in-process monitor as JSON.

``GET {prefix}/monitor``                    current interval and summary of the history
``GET {prefix}/monitor/history?minutes=N``  completed intervals of the last N minutes
``GET {prefix}/alerts``                     state of every alert

Every request needs ``Authorization: Bearer <FLUX_ADMIN_TOKEN>``; the token is
compared in constant time. While FLUX_ADMIN_TOKEN is unset the endpoints are
off: :func:`handle_admin` returns False and the request goes to the application,
which normally responds 404. The JSON shape is documented in docs/monitor.md.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from otel_flux.instrumentation.config import ADMIN_PATH
from otel_flux.metrics.monitor import Monitor, get_monitor
from otel_flux.settings import ADMIN_TOKEN

_logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_PREFIX = "/_flux"
MAX_HISTORY_MINUTES = 1440.0


class AdminEndpoints:
    """The admin routes under one prefix, guarded by one bearer token."""

    def __init__(
        self,
        token: str | None,
        prefix: str = DEFAULT_PREFIX,
        monitor: Callable[[], Monitor | None] = get_monitor,
    ) -> None:
        self._expected = None if token is None else token.encode()
        self._prefix = prefix.rstrip("/")
        self._monitor = monitor
        self.rejected = 0  # requests with a missing or wrong token

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request when it is for an admin path, and return whether it did."""
        if scope.get("type") != "http" or self._expected is None:
            return False
        path: str = scope.get("path", "")
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            return False

        if not _authorized(scope, self._expected):
            self.rejected += 1
            if self.rejected == 1 or self.rejected % 100 == 0:
                _logger.warning("admin request rejected: missing or wrong bearer token")
            await _respond(send, 401, {"error": "missing or wrong bearer token"}, bearer=True)
            return True
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, {"error": "only GET is allowed"})
            return True

        status, body = self._route(path[len(self._prefix) :], scope.get("query_string", b""))
        await _respond(send, status, body, head=scope.get("method") == "HEAD")
        return True

    def _route(self, path: str, query: bytes) -> tuple[int, Mapping[str, Any]]:
        if path not in ("/monitor", "/monitor/history", "/alerts"):
            return 404, {"error": f"no admin endpoint {path or '/'}"}
        monitor = self._monitor()
        if monitor is None:
            return 503, {"error": "the in-process monitor is not running (FLUX_MONITOR_ENABLED)"}

        if path == "/monitor":
            return 200, {"current": monitor.current(), "summary": monitor.summary()}
        if path == "/alerts":
            return 200, {"alerts": monitor.alerts()}

        minutes, error = _minutes(query)
        if error:
            return 400, {"error": error}
        return 200, {"minutes": minutes, "intervals": monitor.history(minutes)}


def _authorized(scope: Scope, expected: bytes) -> bool:
    """Check ``Authorization: Bearer <token>``; the scheme is case-insensitive (RFC 9110)."""
    supplied = b""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            supplied = bytes(value)
            break
    scheme, _, credentials = supplied.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        credentials = b""
    return hmac.compare_digest(credentials.strip(), expected)


def _minutes(query: bytes) -> tuple[float | None, str]:
    values = parse_qs(query.decode("latin-1")).get("minutes")
    if not values:
        return None, ""
    try:
        minutes = float(values[0])
    except ValueError:
        minutes = -1.0
    if not 0 < minutes <= MAX_HISTORY_MINUTES:
        return None, (
            f"invalid minutes {values[0]!r}: expected a number above 0 and at most "
            f"{MAX_HISTORY_MINUTES:g}"
        )
    return minutes, ""


async def _respond(
    send: Send, status: int, body: Mapping[str, Any], *, bearer: bool = False, head: bool = False
) -> None:
    payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if bearer:
        headers.append((b"www-authenticate", b'Bearer realm="otel_flux admin"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else payload})


_default: AdminEndpoints | None = None
_default_lock = threading.Lock()


def _endpoints() -> AdminEndpoints:
    global _default
    with _default_lock:
        if _default is None:
            _default = AdminEndpoints(ADMIN_TOKEN.read(), ADMIN_PATH.read())
        return _default


async def handle_admin(scope: Scope, receive: Receive, send: Send) -> bool:
    """Serve admin requests under FLUX_ADMIN_PATH, and return False for every other request.

    FLUX_ADMIN_TOKEN and FLUX_ADMIN_PATH are read on the first call.
    """
    return await _endpoints().handle(scope, receive, send)
