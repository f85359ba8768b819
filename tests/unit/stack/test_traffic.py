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


def test_burst_comes_from_its_own_address() -> None:
    """The burst's failed logins must not get 127.0.0.1, the user's address, banned."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from otel_flux.stack.traffic import BURST_SOURCE_ADDRESS, send_burst

    peers: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            peers.append(self.client_address[0])
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        statuses = send_burst(f"http://127.0.0.1:{server.server_address[1]}", [("GET", "/x", None)])
    finally:
        server.shutdown()
        server.server_close()

    assert statuses == {204: 1}
    assert peers == [BURST_SOURCE_ADDRESS]
