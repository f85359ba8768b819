"""A short burst of real requests to the sample service, so the backends have data."""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import secrets
import urllib.parse
from collections import Counter

_logger = logging.getLogger(__name__)

# Used when otel_flux.demo.users cannot be imported, e.g. with a custom
# FLUX_STACK_APP. The login then fails with 401, which still produces traffic.
_FALLBACK_USER = ("alice@example.com", "password")

Request = tuple[str, str, bytes | None]


def _demo_user() -> tuple[str, str]:
    try:
        users = importlib.import_module("otel_flux.demo.users")
    except ImportError:
        return _FALLBACK_USER
    demo_users: dict[str, str] = getattr(users, "DEMO_USERS", {})
    return next(iter(demo_users.items()), _FALLBACK_USER)


def burst_requests(rounds: int = 5) -> list[Request]:
    """Return the requests of one burst: logins that succeed and fail, file reads, 404s."""
    email, password = _demo_user()
    good = json.dumps({"email": email, "password": password}).encode()
    bad = json.dumps({"email": email, "password": "not-the-password"}).encode()
    unknown = json.dumps({"email": "nobody@example.com", "password": "x"}).encode()

    requests: list[Request] = []
    for i in range(rounds):
        requests += [
            ("POST", "/api/auth/login", good),
            ("POST", "/api/auth/login", bad if i % 2 else unknown),
            ("GET", "/api/files", None),
            ("GET", f"/api/files/{i % 4 + 1}", None),
            ("GET", f"/api/files/missing-{i}", None),
            ("GET", "/health", None),
        ]
    requests.append(("GET", "/no/such/endpoint", None))
    return requests


# The burst's failed logins get its client address banned by the security
# middleware. Sending from another loopback address keeps the user's own
# requests from 127.0.0.1 unaffected after `stack up`.
BURST_SOURCE_ADDRESS = "127.0.0.2"


def new_source_address() -> str:
    """Return a loopback address for one burst, so a second `stack up` is not banned.

    127.0.0.1 is the user's and 127.0.0.254 the multi-instance health probe's.
    """
    return f"127.0.{secrets.randbelow(250)}.{2 + secrets.randbelow(250)}"


def send_burst(
    base_url: str,
    requests: list[Request],
    timeout: float = 10.0,
    source_address: str = BURST_SOURCE_ADDRESS,
) -> Counter[int]:
    """Send each request in order and count the responses by HTTP status (0: no response)."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    statuses: Counter[int] = Counter()
    for method, path, body in requests:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection = http.client.HTTPConnection(
            host, port, timeout=timeout, source_address=(source_address, 0)
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        except OSError as exc:
            _logger.warning("%s %s failed: %s", method, path, exc)
            statuses[0] += 1
        finally:
            connection.close()
    return statuses
