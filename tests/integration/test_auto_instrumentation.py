"""Apps with no OpenTelemetry code, under ``opentelemetry-instrument uvicorn``, exporting OTLP.

The receiver is a real OTLP/HTTP endpoint that decodes the SDK's protobuf
payloads; the Collector-based end-to-end tests cover the same path through the
project's Collector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.otlp import OtlpReceiver
from tests.support.servers import RedisServer, wait_until
from tests.support.service import instrumented_uvicorn

SERVER_KIND = 2
CLIENT_KIND = 3


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def service_env(receiver: OtlpReceiver, redis_server: RedisServer) -> dict[str, str]:
    return {
        "OTEL_SERVICE_NAME": "plain-app",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "FLUX_REDIS_URL": redis_server.url,
    }


def server_spans(receiver: OtlpReceiver) -> list[object]:
    return [span for span in receiver.spans if span.kind == SERVER_KIND]


def test_starlette_app_traced_by_route(
    receiver: OtlpReceiver, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = service_env(receiver, redis_server)
    with instrumented_uvicorn(
        "tests.integration.apps.plain_app:app", env, tmp_path / "service.log"
    ) as service:
        with httpx.Client(base_url=service.url) as http:
            for number in range(20):
                assert http.get(f"/items/{number}").status_code == 200
            for number in range(1000):
                http.get(f"/unmatched/{number}")
            http.post("/login", json={"email": "a@example.com", "password": "pw"})
        assert service.stop() is not None

    servers = [span for span in receiver.spans if span.kind == SERVER_KIND]
    names = Counter(span.name for span in servers)
    by_id = {span.span_id: span for span in receiver.spans}
    redis_spans = [span for span in receiver.spans if span.kind == CLIENT_KIND]

    assert names == {"GET /items/{item_id}": 20, "GET": 1000, "POST /login": 1}
    assert not [s for s in receiver.spans if s.name.startswith("http ")]
    assert len(redis_spans) == 21
    for span in redis_spans:
        parent = by_id[span.parent_span_id]
        assert parent.kind == SERVER_KIND
        assert parent.trace_id == span.trace_id
    assert {s.resource["service.name"] for s in receiver.spans} == {"plain-app"}


def test_stable_duration_histogram_exported(
    receiver: OtlpReceiver, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = service_env(receiver, redis_server)
    with instrumented_uvicorn(
        "tests.integration.apps.plain_app:app", env, tmp_path / "service.log"
    ) as service:
        with httpx.Client(base_url=service.url) as http:
            http.get("/items/1")
        wait_until(
            lambda: any(p.name == "http.server.request.duration" for p in receiver.points),
            15,
            "the duration histogram",
        )

    points = [p for p in receiver.points if p.name == "http.server.request.duration"]
    redis_points = [p for p in receiver.points if p.name == "db.client.operation.duration"]

    assert points[0].unit == "s"
    assert points[0].attributes["http.route"] == "/items/{item_id}"
    assert "http.target" not in points[0].attributes
    assert not [p for p in receiver.points if p.name == "http.server.duration"]
    assert {p.attributes["db.operation.name"] for p in redis_points} >= {"GET"}


def test_bare_asgi_callable_gets_server_spans(
    receiver: OtlpReceiver, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = service_env(receiver, redis_server)
    with instrumented_uvicorn(
        "tests.integration.apps.plain_app:bare_app", env, tmp_path / "service.log"
    ) as service:
        with httpx.Client(base_url=service.url) as http:
            for number in range(5):
                http.get(f"/anything/{number}")
        service.stop()

    assert [span.name for span in server_spans(receiver)] == ["GET"] * 5


def test_two_workers_export_every_span_once(
    receiver: OtlpReceiver, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = service_env(receiver, redis_server)
    requests = 200
    with instrumented_uvicorn(
        "tests.integration.apps.plain_app:app",
        env,
        tmp_path / "service.log",
        extra_args=["--workers", "2"],
    ) as service:
        for number in range(requests):
            with httpx.Client(base_url=service.url) as http:
                assert http.get(f"/items/{number}").status_code == 200
        assert service.stop() is not None, service.log()

    servers = server_spans(receiver)
    span_ids = [span.span_id for span in servers]
    instances = {span.resource["service.instance.id"] for span in servers}

    assert len(servers) == requests
    assert len(set(span_ids)) == requests
    assert len(instances) == 2


def test_login_secrets_never_exported(
    receiver: OtlpReceiver, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {**service_env(receiver, redis_server), "FLUX_DEMO_SCRYPT_COST": "10"}
    password = "Pa55word-do-not-export"
    email = "victim.user@example.org"
    with instrumented_uvicorn("otel_flux.demo:app", env, tmp_path / "service.log") as service:
        with httpx.Client(base_url=service.url) as http:
            http.post("/api/auth/login", json={"email": email, "password": password})
            ok = http.post(
                "/api/auth/login",
                json={"email": "alice@example.com", "password": "wonderland-42"},
            )
            token = ok.json()["token"]
            http.get("/api/files", headers={"Authorization": f"Bearer {token}"})
        wait_until(lambda: len(receiver.points) > 0, 15, "metrics")
        service.stop()

    everything = b"".join(receiver.raw_payloads)

    assert len(server_spans(receiver)) == 3
    assert password.encode() not in everything
    assert email.encode() not in everything
    assert b"alice@example.com" not in everything
    assert b"wonderland-42" not in everything
    assert token.encode() not in everything


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS line for pid {pid}")


def test_no_collector_listening(redis_server: RedisServer, tmp_path: Path) -> None:
    """Requests succeed, memory stays bounded and shutdown ends in bounded time."""
    from tests.support.servers import free_port

    env = {
        "OTEL_SERVICE_NAME": "orphan",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "FLUX_SHUTDOWN_TIMEOUT_S": "3",
        "FLUX_REDIS_URL": redis_server.url,
    }
    with instrumented_uvicorn(
        "tests.integration.apps.plain_app:app", env, tmp_path / "service.log"
    ) as service:
        with httpx.Client(base_url=service.url) as http:
            for number in range(500):
                assert http.get(f"/items/{number}").status_code == 200
            after_warmup = resident_kib(service.process.pid)
            for number in range(3000):
                assert http.get(f"/items/{number}").status_code == 200
            after_load = resident_kib(service.process.pid)
        shutdown_seconds = service.stop()

    # The span queue keeps at most 2048 spans (OTEL_BSP_MAX_QUEUE_SIZE); 3000 more
    # requests with nowhere to export must not grow memory by more than that bound.
    assert after_load - after_warmup < 40 * 1024
    assert shutdown_seconds is not None
    assert shutdown_seconds < 8


def test_gunicorn_uvicorn_workers_export(
    receiver: OtlpReceiver, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Gunicorn forks its workers; each must export with its own instance id."""
    pytest.importorskip("gunicorn")
    env = service_env(receiver, redis_server)
    requests = 100
    with instrumented_uvicorn(
        "tests.integration.apps.plain_app:app",
        env,
        tmp_path / "service.log",
        server=["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2"],
    ) as service:
        for number in range(requests):
            with httpx.Client(base_url=service.url) as http:
                assert http.get(f"/items/{number}").status_code == 200
        stopped_in = service.stop()
        print("gunicorn stop seconds", stopped_in)
        assert stopped_in is not None, service.log()

    servers = server_spans(receiver)
    instances = {span.resource["service.instance.id"] for span in servers}

    assert len(servers) == requests, service.log()
    assert len({span.span_id for span in servers}) == requests
    assert len(instances) == 2
