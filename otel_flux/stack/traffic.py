"""A short burst of real requests to the sample service, so the backends have data."""

from __future__ import annotations

import importlib
import json
import logging
import urllib.error
import urllib.request
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


def send_burst(base_url: str, requests: list[Request], timeout: float = 10.0) -> Counter[int]:
    """Send each request in order and count the responses by HTTP status (0: no response)."""
    statuses: Counter[int] = Counter()
    for method, path, body in requests:
        url = base_url + path
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (loopback service)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback service)
                statuses[response.status] += 1
        except urllib.error.HTTPError as exc:
            statuses[exc.code] += 1
        except OSError as exc:
            _logger.warning("%s %s failed: %s", method, path, exc)
            statuses[0] += 1
    return statuses
