"""The server middleware on real Starlette apps, with the SDK's in-memory exporter and reader."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from otel_flux.instrumentation.asgi import FluxServerMiddleware
from otel_flux.instrumentation.server import _patch_upstream_middleware
from tests.support.otel import Telemetry, make_telemetry


async def item(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["item_id"]})


async def boom(request: Request) -> Response:
    raise RuntimeError("handler failed")


async def echo_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def starlette_app(**routes: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/items/{item_id}", item),
            Route("/boom", boom),
            Route("/health", lambda request: PlainTextResponse("ok")),
            Mount("/v1", routes=[Route("/things/{item_id}", item)]),
            WebSocketRoute("/ws", echo_ws),
        ]
    )


def wrap(app: Any, telemetry: Telemetry, **options: Any) -> FluxServerMiddleware:
    options.setdefault("excluded_paths", ("/health",))
    return FluxServerMiddleware(
        app,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        **options,
    )


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def telemetry() -> Telemetry:
    return make_telemetry()


async def test_span_named_by_route_template(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.get("/items/123")

    spans = telemetry.spans()

    assert [span.name for span in spans] == ["GET /items/{item_id}"]
    assert spans[0].kind is SpanKind.SERVER
    assert spans[0].attributes is not None
    assert spans[0].attributes["http.route"] == "/items/{item_id}"
    assert spans[0].attributes["url.path"] == "/items/123"
    assert spans[0].attributes["http.response.status_code"] == 200


async def test_mounted_route_includes_prefix(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.get("/v1/things/9")

    assert [span.name for span in telemetry.spans()] == ["GET /v1/things/{item_id}"]


async def test_unmatched_paths_share_one_name(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        for number in range(1000):
            response = await http.get(f"/scan/{number}/wp-login.php")
            assert response.status_code == 404

    names = {span.name for span in telemetry.spans()}

    assert names == {"GET"}
    assert len(telemetry.spans()) == 1000


async def test_no_per_message_spans(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.get("/items/1")
        await http.get("/items/2")

    assert len(telemetry.spans()) == 2


async def test_excluded_path_has_no_span_or_metric(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        response = await http.get("/health")

    assert response.status_code == 200
    assert telemetry.spans() == []
    assert telemetry.histogram_points("http.server.request.duration") == []


async def test_stable_duration_histogram(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.get("/items/5")
        await http.get("/items/6")

    points = telemetry.histogram_points("http.server.request.duration")

    assert len(points) == 1
    assert points[0].count == 2
    assert dict(points[0].attributes) == {
        "http.request.method": "GET",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }
    # Buckets suited to seconds: the first edge is a millisecond, not a millisecond count.
    assert points[0].explicit_bounds[0] < 0.01
    assert telemetry.histogram_points("http.server.duration") == []


async def test_exception_marks_span_and_metric(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        with pytest.raises(RuntimeError):
            await http.get("/boom")

    span = telemetry.spans()[0]
    point = telemetry.histogram_points("http.server.request.duration")[0]

    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert point.attributes["error.type"] == "RuntimeError"
    assert any(event.name == "exception" for event in span.events)


async def test_client_address_truncated_by_default(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.get("/items/1")

    attributes = telemetry.spans()[0].attributes

    assert attributes is not None
    assert attributes["client.address"] == "203.0.113.0"


async def test_client_address_off(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry, client_address="off")) as http:
        await http.get("/items/1")

    attributes = telemetry.spans()[0].attributes

    assert attributes is not None
    assert "client.address" not in attributes


async def test_duration_ends_at_last_body_chunk(telemetry: Telemetry) -> None:
    background_started: list[int] = []

    async def slow_task() -> None:
        background_started.append(time.time_ns())

    async def with_background(request: Request) -> Response:
        return PlainTextResponse("done", background=BackgroundTask(slow_task))

    app = Starlette(routes=[Route("/bg", with_background)])
    async with client(wrap(app, telemetry)) as http:
        await http.get("/bg")

    span = telemetry.spans()[0]

    assert span.end_time is not None
    assert span.end_time <= background_started[0]


async def test_traceparent_continues_trace(telemetry: Telemetry) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.get("/items/1", headers=headers)

    span = telemetry.spans()[0]

    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_unknown_method_becomes_other(telemetry: Telemetry) -> None:
    async with client(wrap(starlette_app(), telemetry)) as http:
        await http.request("FROBNICATE", "/items/1")

    span = telemetry.spans()[0]

    assert span.name == "HTTP /items/{item_id}"
    assert span.attributes is not None
    assert span.attributes["http.request.method_original"] == "FROBNICATE"


async def test_lifespan_scope_untouched(telemetry: Telemetry) -> None:
    received: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        received.append(scope)
        await send({"type": "lifespan.startup.complete"})

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await wrap(app, telemetry)(scope, receive, send)

    assert received[0] is scope
    assert scope == {"type": "lifespan", "asgi": {"version": "3.0"}}
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert telemetry.spans() == []


async def test_websocket_scope_passes_through(telemetry: Telemetry) -> None:
    app = wrap(starlette_app(), telemetry)
    messages = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)

    assert sent[0]["type"] == "websocket.accept"
    assert sent[1] == {"type": "websocket.send", "text": "hello"}


async def test_upstream_middleware_adds_no_second_span(telemetry: Telemetry) -> None:
    _patch_upstream_middleware()
    inner = OpenTelemetryMiddleware(starlette_app(), tracer_provider=telemetry.tracer_provider)
    async with client(wrap(inner, telemetry)) as http:
        await http.get("/items/1")

    spans = telemetry.spans()

    assert [span.name for span in spans] == ["GET /items/{item_id}"]


async def test_nested_flux_middleware_applies_once(telemetry: Telemetry) -> None:
    app = wrap(wrap(starlette_app(), telemetry), telemetry)
    async with client(app) as http:
        await http.get("/items/1")

    assert len(telemetry.spans()) == 1


async def test_child_spans_share_the_server_trace(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")

    async def handler(request: Request) -> Response:
        with tracer.start_as_current_span("child"):
            pass
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/work", handler)])
    async with client(wrap(app, telemetry)) as http:
        await http.get("/work")

    child, server = telemetry.spans()

    assert child.parent is not None
    assert child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id
    assert trace.get_current_span() is trace.INVALID_SPAN


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/hypercorn", "app:app"], "hypercorn"),
        (["python3", "-m", "daphne", "app:app"], "daphne"),
        (["/venv/bin/uvicorn", "app:app"], None),
        (["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app:app"], None),
    ],
)
def test_unsupported_server_warned(
    argv: list[str], expected: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    from otel_flux.instrumentation.server import warn_if_unsupported_server

    assert warn_if_unsupported_server(argv) == expected
    assert ("not supported" in caplog.text) == (expected is not None)


async def test_active_requests_counts_in_flight(telemetry: Telemetry) -> None:
    """http.server.active_requests is 1 while a request runs and 0 once it has ended."""
    observed: list[list[Any]] = []

    async def watch(request: Request) -> Response:
        observed.append(telemetry.histogram_points("http.server.active_requests"))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/watch", watch)])
    async with client(wrap(app, telemetry)) as http:
        await http.get("/watch")
    after = telemetry.histogram_points("http.server.active_requests")

    assert [point.value for point in observed[0]] == [1]
    assert dict(observed[0][0].attributes) == {"http.request.method": "GET", "url.scheme": "http"}
    assert [point.value for point in after] == [0]


async def test_excluded_path_suppresses_instrumentation(telemetry: Telemetry) -> None:
    """Instrumentation inside a health check (Redis, security checks) records nothing."""
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    seen: dict[str, bool] = {}

    async def probe(request: Request) -> Response:
        seen[request.url.path] = is_instrumentation_enabled()
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/health", probe), Route("/work", probe)])
    async with client(wrap(app, telemetry)) as http:
        await http.get("/health")
        await http.get("/work")

    assert seen["/health"] is False
    assert seen["/work"] is True
    assert is_instrumentation_enabled() is True


async def test_fastapi_native_telemetry_stays_off(telemetry: Telemetry) -> None:
    """FastAPI's own tracing would add a second SERVER span in a separate trace."""
    fastapi = pytest.importorskip("fastapi")
    app = fastapi.FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    async with client(wrap(app, telemetry)) as http:
        response = await http.get("/things/7")

    spans = telemetry.spans()

    assert response.status_code == 200
    assert [span.name for span in spans] == ["GET /things/{thing_id}"]
    assert len(telemetry.histogram_points("http.server.request.duration")) == 1
