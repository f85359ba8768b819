"""Start, stop and restart single components of a test stack, and query its backends."""

from __future__ import annotations

import contextlib
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_flux.stack import config, health, process, runner
from otel_flux.stack.components import COMPONENTS
from otel_flux.stack.config import StackConfig
from tests.support.stack import require_binaries, stack_environ

# Collector settings of the pipeline tests: ordinary traces kept at 10 %, and a
# short decision wait so that sampled traces reach Jaeger within seconds.
SAMPLING_ENVIRON = {
    "FLUX_COLLECTOR_SAMPLING_PERCENTAGE": "10",
    "FLUX_COLLECTOR_DECISION_WAIT": "5s",
    "FLUX_COLLECTOR_DECISION_WAIT_AFTER_ROOT": "1s",
}


@dataclass
class PipelineStack:
    """A running stack plus the environment its components were started with."""

    settings: StackConfig
    built: dict[str, Path]
    extra_environ: Mapping[str, str]

    @classmethod
    @contextlib.contextmanager
    def running(cls, run_dir: Path, extra_environ: Mapping[str, str]) -> Iterator[PipelineStack]:
        """Start every component; stop them all on exit, also after a failure."""
        built = require_binaries()
        environ = stack_environ(run_dir)
        # The real sample service, so its operations show up in Jaeger's Monitor.
        del environ["FLUX_STACK_APP"]
        stack = cls(config.load(environ), built, extra_environ)
        try:
            stack.up()
            yield stack
        finally:
            runner.down(stack.settings, say=print)
            leftover = [
                component.name
                for component in COMPONENTS
                if process.read(stack.settings.run_dir, component.name) is not None
            ]
            assert leftover == [], f"processes still running after stack down: {leftover}"

    def up(self) -> None:
        """Start every component that is not running, with the extra environment."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.extra_environ.items():
                patch.setenv(name, value)
            runner.up(self.settings, self.built, say=print)

    def stop(self, name: str) -> None:
        if not process.stop(self.settings.run_dir, name):
            raise AssertionError(f"{name} was not running")

    def pid(self, name: str) -> int:
        tracked = process.read(self.settings.run_dir, name)
        if tracked is None:
            raise AssertionError(f"{name} is not running")
        return tracked.pid

    def url(self, setting: Any) -> str:
        return f"http://127.0.0.1:{self.settings.port(setting)}"

    @property
    def jaeger(self) -> str:
        return self.url(config.JAEGER_QUERY_PORT)

    @property
    def prometheus(self) -> str:
        return self.url(config.PROMETHEUS_PORT)

    @property
    def collector_grpc(self) -> str:
        return self.url(config.COLLECTOR_GRPC_PORT)

    @property
    def collector_metrics(self) -> str:
        return self.url(config.COLLECTOR_METRICS_PORT)

    @property
    def collector_exporter(self) -> str:
        return self.url(config.COLLECTOR_EXPORTER_PORT)

    @property
    def service(self) -> str:
        return self.url(config.SERVICE_PORT)


def get_json_or_none(url: str) -> Any:
    try:
        return health.get_json(url)
    except (OSError, ValueError):
        return None


def jaeger_trace(stack: PipelineStack, trace_id: str) -> dict[str, Any] | None:
    """Return the trace from Jaeger's query API, or None when Jaeger does not have it."""
    body = get_json_or_none(f"{stack.jaeger}/api/traces/{trace_id}")
    if not body or not body.get("data"):
        return None
    trace: dict[str, Any] = body["data"][0]
    return trace


def prometheus_query(stack: PipelineStack, promql: str) -> list[dict[str, Any]]:
    """Return the result vector of an instant query; empty when Prometheus is unreachable."""
    query = urllib.parse.urlencode({"query": promql})
    body = get_json_or_none(f"{stack.prometheus}/api/v1/query?{query}")
    if not body or body.get("status") != "success":
        return []
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call check until it returns a truthy value or timeout seconds pass; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def scrape(url: str) -> str:
    """Return the text of a Prometheus /metrics endpoint, or "" when it is unreachable."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 (loopback)
            text: str = response.read().decode()
    except OSError:
        return ""
    return text


def metric_sum(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum the samples of one metric in Prometheus text format, filtered by labels."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        if labels and not all(f'{key}="{val}"' in label_text for key, val in labels.items()):
            continue
        total += float(value)
    return total
