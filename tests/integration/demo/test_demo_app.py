"""The flux-auth sample service against a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from otel_flux.demo import create_app
from tests.support.servers import RedisServer


@asynccontextmanager
async def running_app() -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield a client bound to it."""
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            yield client


@pytest.fixture
async def client(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("FLUX_REDIS_URL", redis_server.url)
    monkeypatch.setenv("FLUX_DEMO_SCRYPT_COST", "10")
    # Each test gets its own security keys, so rate limits never carry over.
    monkeypatch.setenv("FLUX_SECURITY_KEY_PREFIX", f"test-demo-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("FLUX_SECURITY_HMAC_KEY", "demo-test-hmac-key")
    async with running_app() as client:
        yield client


async def test_login_success_returns_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "wonderland-42"}
    )

    assert response.status_code == 200
    assert len(response.json()["token"]) >= 32


async def test_unknown_user_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "wonderland-42"}
    )
    wrong = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "not-it"}
    )

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.content == wrong.content
    # RateLimit counts requests per client address, so only its remaining count differs.
    assert sorted(unknown.headers.keys()) == sorted(wrong.headers.keys())
    assert unknown.headers["content-type"] == wrong.headers["content-type"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"email": "a@example.com"}', "missing_fields"),
        (b'{"email": 5, "password": "x"}', "missing_fields"),
        (b"\xff\xfe", "invalid_json"),
    ],
)
async def test_bad_login_body_is_400(client: httpx.AsyncClient, body: bytes, code: str) -> None:
    response = await client.post(
        "/api/auth/login", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == code


async def test_files_listed_and_fetched(client: httpx.AsyncClient) -> None:
    listing = await client.get("/api/files")
    single = await client.get("/api/files/2")
    missing = await client.get("/api/files/999")

    assert [f["id"] for f in listing.json()["files"]] == ["1", "2", "3", "4"]
    assert single.json()["name"] == "architecture.png"
    assert missing.status_code == 404


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/wp-admin")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "redis": "ok"}


async def test_redis_down_gives_503_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.servers import free_port

    monkeypatch.setenv("FLUX_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    async with running_app() as client:
        response = await client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": "x"}
        )
        files = await client.get("/api/files")

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert files.status_code == 503


async def test_data_restored_after_redis_loses_it(
    client: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    """A Redis restart without persistence must not leave the demo without users or files."""
    import redis as redis_client

    with redis_client.Redis.from_url(redis_server.url) as admin:
        admin.delete("flux:demo:files", *admin.keys("flux:demo:user:*"))

    single = await client.get("/api/files/2")
    listing = await client.get("/api/files")
    login = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "wonderland-42"}
    )

    assert single.status_code == 200
    assert len(listing.json()["files"]) == 4
    assert login.status_code == 200
