"""Admin endpoints: bearer token, routes, query validation, off without a token."""

from __future__ import annotations

import httpx
import pytest

from otel_flux.admin import AdminEndpoints, Receive, Scope, Send
from otel_flux.metrics.monitor import Monitor
from tests.support.fakes import FakeClock, FixedProbe

TOKEN = "test-token"


def _client(endpoints: AdminEndpoints) -> httpx.AsyncClient:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if await endpoints.handle(scope, receive, send):
            return
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


@pytest.fixture
def monitor() -> Monitor:
    clock = FakeClock()
    monitor = Monitor(interval_s=60.0, clock=clock, wall_clock=clock, probe=FixedProbe())
    monitor.record_request("/login", "POST", 200, 0.02)
    clock.advance(60.0)
    monitor.tick()
    monitor.record_request("/login", "POST", 500, 0.03)
    return monitor


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_monitor_returns_current_and_summary(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get("/_flux/monitor", headers=_auth())
    body = response.json()

    assert response.status_code == 200
    assert body["current"]["requests"]["failed"] == 1
    assert body["summary"]["requests"]["total"] == 1


async def test_history_with_minutes(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get("/_flux/monitor/history?minutes=5", headers=_auth())

    assert response.status_code == 200
    assert len(response.json()["intervals"]) == 1


@pytest.mark.parametrize("minutes", ["0", "-3", "soon", "99999"])
async def test_history_rejects_bad_minutes(monitor: Monitor, minutes: str) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get(f"/_flux/monitor/history?minutes={minutes}", headers=_auth())

    assert response.status_code == 400
    assert "minutes" in response.json()["error"]


async def test_alerts_lists_every_alert(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get("/_flux/alerts", headers=_auth())

    assert len(response.json()["alerts"]) == 5


@pytest.mark.parametrize("headers", [{}, _auth("wrong"), {"Authorization": TOKEN}])
async def test_wrong_token_rejected(monitor: Monitor, headers: dict[str, str]) -> None:
    endpoints = AdminEndpoints(TOKEN, monitor=lambda: monitor)
    async with _client(endpoints) as client:
        response = await client.get("/_flux/monitor", headers=headers)

    assert response.status_code == 401
    assert endpoints.rejected == 1


async def test_unknown_path_after_auth_is_404(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get("/_flux/secrets", headers=_auth())

    assert response.status_code == 404


async def test_post_rejected(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.post("/_flux/alerts", headers=_auth())

    assert response.status_code == 405


async def test_off_without_token(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(None, monitor=lambda: monitor)) as client:
        response = await client.get("/_flux/monitor", headers=_auth())

    assert response.status_code == 418


async def test_other_paths_pass_through(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get("/_fluxion", headers=_auth())

    assert response.status_code == 418


async def test_no_monitor_is_503() -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: None)) as client:
        response = await client.get("/_flux/alerts", headers=_auth())

    assert response.status_code == 503


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
async def test_bearer_scheme_case_insensitive(monitor: Monitor, scheme: str) -> None:
    async with _client(AdminEndpoints(TOKEN, monitor=lambda: monitor)) as client:
        response = await client.get("/_flux/alerts", headers={"Authorization": f"{scheme} {TOKEN}"})

    assert response.status_code == 200


async def test_custom_prefix(monitor: Monitor) -> None:
    async with _client(AdminEndpoints(TOKEN, "/ops", monitor=lambda: monitor)) as client:
        moved = await client.get("/ops/alerts", headers=_auth())
        old = await client.get("/_flux/alerts", headers=_auth())

    assert moved.status_code == 200
    assert old.status_code == 418
