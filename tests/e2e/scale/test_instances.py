"""Three instances behind nginx act as one service: shared bans, all traces, exact counts.

Each test sends from its own loopback address (127.0.0.0/8 is all loopback on
Linux), which nginx passes on as the client address, so the tests' rate limits
and bans do not touch each other.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import pytest

from otel_flux.stack import config, health, observe
from tests.e2e.scale.conftest import INSTANCES, ScaledStack

pytestmark = [pytest.mark.stack, pytest.mark.slow]

LOGIN = "/api/auth/login"
THRESHOLD = 5  # FLUX_SECURITY_BRUTE_FORCE_THRESHOLD default
DATA_TIMEOUT = 60.0


def send(
    port: int,
    method: str,
    path: str,
    *,
    source: str,
    body: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """Send one request from the loopback address source and return the status."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    payload = None if body is None else json.dumps(body).encode()
    all_headers = dict(headers or {})
    if payload is not None:
        all_headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=all_headers)
        return connection.getresponse().status
    finally:
        connection.close()


def service_port(stack: ScaledStack) -> int:
    return stack.config.port(config.SERVICE_PORT)


def upstreams_of(stack: ScaledStack, request_line: str) -> list[str]:
    """Return the instance address nginx chose for each logged request_line, in order."""
    log = (stack.config.run_dir / "nginx-access.log").read_text()
    return [
        line.split("upstream=")[1].split()[0]
        for line in log.splitlines()
        if f'"{request_line} HTTP/1.1"' in line
    ]


def test_spread_failed_logins_blocked_after_fifth(scaled_stack: ScaledStack) -> None:
    """Failed logins spread over the instances count together; the sixth attempt is refused."""
    attacker = "127.0.0.11"
    wrong = {"email": "alice@example.com", "password": "guess"}

    statuses = [
        send(service_port(scaled_stack), "POST", LOGIN, source=attacker, body=wrong)
        for _ in range(THRESHOLD + 1)
    ]

    assert statuses[:THRESHOLD] == [401] * THRESHOLD
    assert statuses[THRESHOLD] == 403
    assert len(set(upstreams_of(scaled_stack, f"POST {LOGIN}"))) == INSTANCES


def test_ban_holds_on_every_instance(scaled_stack: ScaledStack) -> None:
    """After the ban, each instance refuses the attacker, and another client still gets in."""
    attacker = "127.0.0.21"
    wrong = {"email": "bob@example.com", "password": "guess"}
    for _ in range(THRESHOLD):
        send(service_port(scaled_stack), "POST", LOGIN, source=attacker, body=wrong)

    # Straight to each instance, from nginx's address with the attacker in the header.
    direct = [
        send(port, "GET", "/api/files", source="127.0.0.1", headers={"X-Forwarded-For": attacker})
        for port in scaled_stack.layout.ports
    ]
    bystander = send(service_port(scaled_stack), "GET", "/api/files", source="127.0.0.22")

    assert direct == [403] * INSTANCES
    assert bystander == 200


def test_forged_forwarded_for_is_replaced(scaled_stack: ScaledStack) -> None:
    """A client cannot escape its ban by sending its own X-Forwarded-For through nginx."""
    attacker = "127.0.0.31"
    wrong = {"email": "carol@example.com", "password": "guess"}
    for _ in range(THRESHOLD):
        send(service_port(scaled_stack), "POST", LOGIN, source=attacker, body=wrong)

    status = send(
        service_port(scaled_stack),
        "GET",
        "/api/files",
        source=attacker,
        headers={"X-Forwarded-For": "198.51.100.7"},
    )

    assert status == 403


def _instance_ids(jaeger_url: str, operation: str) -> set[str]:
    query = urllib.parse.urlencode(
        {"service": "flux-auth", "operation": operation, "limit": 200, "lookback": "1h"}
    )
    try:
        traces: list[dict[str, Any]] = health.get_json(f"{jaeger_url}/api/traces?{query}")["data"]
    except (OSError, ValueError, KeyError):
        return set()
    return {
        tag["value"]
        for trace in traces or []
        for process in trace["processes"].values()
        for tag in process.get("tags", [])
        if tag["key"] == "service.instance.id"
    }


def test_traces_from_every_instance(scaled_stack: ScaledStack) -> None:
    """Jaeger stores traces of all three instances, each with its own service.instance.id."""
    client = "127.0.0.41"
    for _ in range(2 * INSTANCES):
        send(service_port(scaled_stack), "GET", "/api/files", source=client)
    jaeger = scaled_stack.url(config.JAEGER_QUERY_PORT)
    found: set[str] = set()

    def all_arrived() -> bool:
        nonlocal found
        found = _instance_ids(jaeger, "GET /api/files")
        return len(found) >= INSTANCES

    health.wait_until(all_arrived, DATA_TIMEOUT, interval=1.0)

    assert len(found) == INSTANCES, found


def test_route_count_sums_over_instances(scaled_stack: ScaledStack) -> None:
    """Prometheus's request count for a route, summed over instances, equals requests sent."""
    client = "127.0.0.51"
    sent = 30
    statuses = [
        send(service_port(scaled_stack), "GET", f"/api/files/{i % 4 + 1}", source=client)
        for i in range(sent)
    ]
    prometheus = scaled_stack.url(config.PROMETHEUS_PORT)
    selector = (
        f'{observe.REQUEST_DURATION_COUNT}{{job="flux-auth", http_route="/api/files/{{file_id}}"}}'
    )
    total = 0.0
    per_instance: list[dict[str, Any]] = []

    def counted() -> bool:
        nonlocal total, per_instance
        rows = observe.prometheus_query(prometheus, f"sum({selector})")
        total = float(rows[0]["value"][1]) if rows else 0.0
        per_instance = observe.prometheus_query(prometheus, f"sum by (instance) ({selector})")
        return total >= sent and len(per_instance) == INSTANCES

    health.wait_until(counted, DATA_TIMEOUT, interval=1.0)

    assert statuses == [200] * sent
    assert total == sent
    assert len(per_instance) == INSTANCES
