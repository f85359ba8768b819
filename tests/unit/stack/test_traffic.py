"""The sample request burst."""

from __future__ import annotations

from otel_flux.stack.traffic import burst_requests


def test_burst_covers_each_route_kind() -> None:
    paths = {(method, path.rsplit("/", 1)[0]) for method, path, _ in burst_requests()}

    assert ("POST", "/api/auth") in paths
    assert ("GET", "/api") in paths
    assert ("GET", "/api/files") in paths
    assert ("GET", "/no/such") in paths


def test_burst_has_failing_logins() -> None:
    bodies = [body for method, _, body in burst_requests() if method == "POST"]

    assert any(body is not None and b"not-the-password" in body for body in bodies)
    assert any(body is not None and b"nobody@example.com" in body for body in bodies)
