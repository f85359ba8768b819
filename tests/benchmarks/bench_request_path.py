"""CPU per request of one Starlette route with one Redis HGET, with parts of otel_flux on or off.

Run from the repository root, pinned to one core:

    PYTHONPATH=. taskset -c 0 python tests/benchmarks/bench_request_path.py

The security cases add the security middleware in front of the route (one
EVALSHA per request, a rate limit no run reaches). Three of them switch one
part of its telemetry off to show what that part costs, and one counts the
decisions with the SDK's Counter instead of otel_flux's direct counter. ``--only TEXT`` runs the
cases whose label contains TEXT.

The app is called at the ASGI level (no HTTP server), against a redis-server the
script starts on a loopback port. Each case runs in its own process, with the
SDK set up by otel_flux's configurator. Spans are encoded to OTLP bytes by the
exporter's encoder but not sent, because the export step is replaced and no
Collector is needed. Metrics aggregate in the SDK and are not exported. The
figure is process CPU time (all threads, the span export thread included) per
request, the minimum over 16 batches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.servers import redis_binary, start_redis

_SECURITY_FLUX = ["--security", "--sdk", "--redis", "--server"]
# The "no ..." cases replace one part of the security middleware's telemetry with
# a function that does nothing, to show what that part costs.
CASES = {
    "no telemetry": [],
    "SDK only (nothing instrumented)": ["--sdk"],
    "Redis instrumentation": ["--sdk", "--redis"],
    "server middleware": ["--sdk", "--server"],
    "both (otel_flux)": ["--sdk", "--redis", "--server"],
    "both, FLUX_FAST_PATH=false": ["--sdk", "--redis", "--server", "--no-fast-path"],
    "security middleware, no telemetry": ["--security"],
    "security middleware, otel_flux": _SECURITY_FLUX,
    "security, otel_flux, no check spans": [*_SECURITY_FLUX, "--without", "check-spans"],
    "security, otel_flux, no decision counts": [*_SECURITY_FLUX, "--without", "decisions"],
    "security, otel_flux, SDK decision counter": [*_SECURITY_FLUX, "--without", "direct-counter"],
    "security, otel_flux, no security telemetry": [*_SECURITY_FLUX, "--without", "security"],
    "security, FLUX_FAST_PATH=false": [*_SECURITY_FLUX, "--no-fast-path"],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=48000)
    parser.add_argument("--sdk", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-fast-path", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--security", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--without",
        choices=("check-spans", "decisions", "direct-counter", "security"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--only", help="run the cases whose label contains this text, case-sensitive (default: all)"
    )
    parser.add_argument("--redis-port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def build_app(args: argparse.Namespace) -> Any:
    from redis.asyncio import Redis
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if args.sdk:
        os.environ.update(
            {
                "OTEL_SERVICE_NAME": "request-path-bench",
                # A reader that never exports during the run: the histograms
                # aggregate as in a service, and nothing is sent.
                "OTEL_METRICS_EXPORTER": "console",
                "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
                "OTEL_TRACES_EXPORTER": "otlp",
                "FLUX_FAST_PATH": "false" if args.no_fast_path else "true",
            }
        )
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import SpanExportResult

        from otel_flux import configurator
        from otel_flux.distro import FluxDistro

        FluxDistro()._configure()
        configurator.initialize()
        processor = trace.get_tracer_provider()._active_span_processor._span_processors[0]  # type: ignore[attr-defined]
        exporter = processor._batch_processor._exporter
        # Encode every batch as the exporter would, without a network call.
        exporter.export = lambda spans: (exporter._translate_data(spans), SpanExportResult.SUCCESS)[
            1
        ]

    if args.redis:
        from otel_flux.instrumentation import redis as redis_instrumentation

        redis_instrumentation.instrument()

    client = Redis(host="127.0.0.1", port=args.redis_port)

    async def get_file(request: Request) -> JSONResponse:
        name = await client.hget("file:2", "name")
        return JSONResponse({"id": request.path_params["file_id"], "name": name.decode()})

    middleware = []
    if args.security:
        from starlette.middleware import Middleware

        from otel_flux.security import SecurityMiddleware
        from otel_flux.security.config import SecurityConfig

        skip_telemetry(args.without)
        # Every request comes from one address, so a limit the run never
        # reaches keeps every check running without rejecting a request.
        config = SecurityConfig(rate_limit=1_000_000_000)
        middleware.append(Middleware(SecurityMiddleware, redis=client, config=config))
    app: Any = Starlette(routes=[Route("/api/files/{file_id}", get_file)], middleware=middleware)
    if args.server:
        from otel_flux.instrumentation.asgi import FluxServerMiddleware

        app = FluxServerMiddleware(app)
    return app, client


def skip_telemetry(part: str | None) -> None:
    """Make one part of the security middleware's telemetry do nothing, or use the SDK's."""
    from opentelemetry import metrics

    from otel_flux.metrics import direct
    from otel_flux.security.telemetry import SecurityTelemetry

    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    if part in ("check-spans", "security"):
        SecurityTelemetry.record_check = nothing  # type: ignore[method-assign]
    if part in ("decisions", "security"):
        SecurityTelemetry.count_decisions = nothing  # type: ignore[method-assign]
    if part == "security":
        SecurityTelemetry.record_duration = nothing  # type: ignore[method-assign]
    if part == "direct-counter":

        def sdk_counter(
            provider: Any, scope: str, version: str | None, name: str, unit: str, description: str
        ) -> Any:
            meter = metrics.get_meter_provider().get_meter(scope, version)
            return meter.create_counter(name, unit=unit, description=description)

        direct.counter = sdk_counter  # type: ignore[assignment]


async def measure(args: argparse.Namespace) -> float:
    app, client = build_app(args)
    await client.hset("file:2", "name", "report.pdf")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/files/2",
        "raw_path": b"/api/files/2",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def run(count: int) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)

    await run(2000)
    batch = max(1, args.requests // 16)
    best = float("inf")
    for _ in range(16):
        started = time.process_time()
        await run(batch)
        best = min(best, (time.process_time() - started) / batch)
    await client.aclose()
    if statuses != {200}:
        raise RuntimeError(f"the route answered {sorted(statuses)}, expected only 200")
    return best * 1e6


def main() -> int:
    args = parse_args()
    if args.redis_port is not None:
        # The console metric exporter prints at exit, after this line.
        print(f"RESULT {asyncio.run(measure(args))}", flush=True)
        return 0

    if redis_binary() is None:
        print(
            "redis-server is not installed; install the Debian package redis-server",
            file=sys.stderr,
        )
        return 2
    if args.only and not any(args.only in label for label in CASES):
        print(
            f"--only {args.only!r} matches no case; use part of one of these labels: "
            + ", ".join(repr(label) for label in CASES),
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(Path(directory))
        try:
            print(f"{'case':<44} CPU per request (us)")
            for label, flags in CASES.items():
                if args.only and args.only not in label:
                    continue
                output = subprocess.run(
                    [sys.executable, __file__, "--redis-port", str(server.port),
                     "--requests", str(args.requests), *flags],
                    capture_output=True, text=True, check=True,
                    env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
                ).stdout  # fmt: skip
                result = next(line for line in output.splitlines() if line.startswith("RESULT "))
                print(f"{label:<44} {float(result.split()[1]):.1f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
