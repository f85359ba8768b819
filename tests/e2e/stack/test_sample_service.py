"""The sample service under opentelemetry-instrument, seen through Jaeger and Prometheus."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from otel_flux.stack import config, health, runner
from otel_flux.stack.config import StackConfig
from tests.support.stack import require_binaries, stack_environ

pytestmark = [pytest.mark.stack, pytest.mark.slow]

DATA_TIMEOUT = 60.0
SPAN_KIND_SERVER = "server"
SPAN_KIND_CLIENT = "client"


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """The whole stack running otel_flux.demo:app; every process stops afterwards."""
    built = require_binaries()
    environ = stack_environ(tmp_path_factory.mktemp("demo-run"))
    del environ["FLUX_STACK_APP"]
    settings = config.load(environ)
    try:
        runner.up(settings, built, say=print)
        yield settings
    finally:
        runner.down(settings, say=print)


@pytest.fixture(scope="module")
def traffic(demo_stack: StackConfig) -> None:
    base = f"http://127.0.0.1:{demo_stack.port(config.SERVICE_PORT)}"
    with httpx.Client(base_url=base, timeout=30) as http:
        login = http.post(
            "/api/auth/login", json={"email": "bob@example.com", "password": "builder-42"}
        )
        assert login.status_code == 200, login.text
        file = http.get("/api/files/3")
        assert file.status_code == 200, file.text


def _jaeger_traces(stack: StackConfig, operation: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{stack.port(config.JAEGER_QUERY_PORT)}/api/traces"
    query = urllib.parse.urlencode({"service": "flux-auth", "operation": operation, "limit": 20})
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        nonlocal found
        try:
            found = health.get_json(f"{url}?{query}").get("data") or []
        except (OSError, ValueError):
            return False
        return bool(found)

    health.wait_until(arrived, DATA_TIMEOUT, interval=1.0)
    return found


def _prometheus_series(stack: StackConfig, promql: str, expected: int) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{stack.port(config.PROMETHEUS_PORT)}/api/v1/query"
    result: list[dict[str, Any]] = []

    def arrived() -> bool:
        nonlocal result
        try:
            body = health.get_json(f"{url}?{urllib.parse.urlencode({'query': promql})}")
        except (OSError, ValueError):
            return False
        result = body["data"]["result"]
        return len(result) >= expected

    health.wait_until(arrived, DATA_TIMEOUT, interval=1.0)
    return result


def _kind(span: dict[str, Any]) -> str | None:
    for tag in span["tags"]:
        if tag["key"] == "span.kind":
            return str(tag["value"])
    return None


def test_login_trace_has_redis_children(demo_stack: StackConfig, traffic: None) -> None:
    traces = _jaeger_traces(demo_stack, "POST /api/auth/login")
    trace = traces[0]
    spans = trace["spans"]
    servers = [s for s in spans if s["operationName"] == "POST /api/auth/login"]
    server = servers[0]
    children = [
        s
        for s in spans
        if _kind(s) == SPAN_KIND_CLIENT
        and any(ref["spanID"] == server["spanID"] for ref in s.get("references", []))
    ]

    assert len(servers) == 1
    assert _kind(server) == SPAN_KIND_SERVER
    assert {s["operationName"] for s in children} >= {"HGETALL", "SET"}
    assert all(s["traceID"] == server["traceID"] for s in children)


def test_duration_histogram_per_route(demo_stack: StackConfig, traffic: None) -> None:
    promql = (
        'count by (http_route, job) (http_server_request_duration_seconds_bucket{job="flux-auth",'
        ' http_route=~"/api/auth/login|/api/files/\\\\{file_id\\\\}"})'
    )
    series = _prometheus_series(demo_stack, promql, expected=2)
    routes = {s["metric"]["http_route"] for s in series}

    assert routes == {"/api/auth/login", "/api/files/{file_id}"}
    assert {s["metric"]["job"] for s in series} == {"flux-auth"}


def test_run_dir_has_logs(demo_stack: StackConfig) -> None:
    logs = sorted(path.name for path in Path(demo_stack.run_dir).glob("*.log"))

    assert "service.log" in logs
