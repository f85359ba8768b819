"""Fixtures for the security tests: a real redis-server, the real SDK, a tiny app."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Start one redis-server on a free loopback port for the session."""
    if shutil.which(REDIS_SERVER) is None:
        pytest.skip(f"{REDIS_SERVER} is not installed")
    port = free_port()
    directory: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.02)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
async def redis(redis_port: int) -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=redis_port, socket_timeout=5)
    await client.flushall()
    yield client
    await client.aclose()


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        if data is None:
            return points
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


_SPANS = InMemorySpanExporter()
_METRICS = InMemoryMetricReader()
_METER_PROVIDER = MeterProvider(metric_readers=[_METRICS])


@pytest.fixture(scope="session")
def _global_providers() -> None:
    """Install the SDK providers once; the middleware finds them through the API."""
    tracer_provider = trace.get_tracer_provider()
    if not isinstance(tracer_provider, TracerProvider):
        tracer_provider = TracerProvider()
        trace.set_tracer_provider(tracer_provider)
    tracer_provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(_METER_PROVIDER)
    if metrics.get_meter_provider() is not _METER_PROVIDER:
        pytest.skip("another test installed the global MeterProvider first")


@pytest.fixture
def telemetry(_global_providers: None) -> Telemetry:
    _SPANS.clear()
    return Telemetry(_SPANS, _METRICS)
