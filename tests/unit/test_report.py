"""otel-flux report: fetches the admin JSON over loopback HTTP, prints the table, writes a PNG."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_flux.admin import AdminEndpoints
from otel_flux.cli import main
from otel_flux.metrics.monitor import Monitor
from tests.support.fakes import FakeClock, FixedProbe

TOKEN = "report-token"


def _serve(endpoints: AdminEndpoints) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            scope = {
                "type": "http",
                "method": "GET",
                "path": path,
                "query_string": query.encode(),
                "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            }
            messages: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b""}

            async def send(message: Any) -> None:
                messages.append(message)

            served = asyncio.run(endpoints.handle(scope, receive, send))
            if not served:
                self.send_error(404)
                return
            self.send_response(messages[0]["status"])
            for name, value in messages[0]["headers"]:
                self.send_header(name.decode(), value.decode())
            self.end_headers()
            self.wfile.write(messages[1]["body"])

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def service_url() -> Iterator[str]:
    clock = FakeClock()
    monitor = Monitor(interval_s=60.0, clock=clock, wall_clock=clock, probe=FixedProbe())
    for minute in range(3):
        for index in range(50):
            monitor.record_request(
                "/login", "POST", 500 if index == 0 else 200, 0.01 * (minute + 1)
            )
        monitor.record_redis("GET", 0.001, None)
        clock.advance(60.0)
        monitor.tick()
    endpoints = AdminEndpoints(TOKEN, monitor=lambda: monitor)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _serve(endpoints))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_report_prints_routes_and_alerts(
    service_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "latency.png"
    code = main(["report", "--url", service_url, "--token", TOKEN, "--chart", str(chart)])
    output = capsys.readouterr().out

    assert code == 0
    assert "POST /login" in output
    assert "150" in output
    assert "FluxErrorRateHigh" in output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_wrong_token_fails(service_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--url", service_url, "--token", "wrong", "--no-chart"])

    assert code == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_report_unreachable_service(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--url", "http://127.0.0.1:9", "--token", TOKEN, "--no-chart"])

    assert code == 1
    assert "cannot reach" in capsys.readouterr().err
