"""FluxHttpLatencyP99High fires and resolves in Prometheus and in the process alike.

The stack serves tests/e2e/stack/alerts_app.py, whose ``/slow`` route takes
longer than the default 1000 ms threshold, so no product threshold is lowered.
Prometheus loads rules that ``otel-flux alerts render`` writes with a 30 s
window and a 10 s ``for``, scrapes and evaluates every second, and the service
exports metrics every second and ends a monitor interval every 5 s. Then one
fixture drives three phases and records what both sides showed:

1. fast traffic until every recording rule returns a series for the service;
2. a burst of slow requests (with the fast traffic going on) until the alert
   is firing in Prometheus's /api/v1/alerts and in /_flux/alerts;
3. fast traffic alone until it is gone from Prometheus and ok in /_flux/alerts.

Each phase is bounded, and the whole module takes about two minutes.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from otel_flux.alerts.render import recording_names
from otel_flux.alerts.thresholds import HTTP_LATENCY, Thresholds
from otel_flux.stack import config, health, runner
from otel_flux.stack.components import SERVICE_NAME
from otel_flux.stack.config import StackConfig
from tests.support.stack import require_binaries, stack_environ

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
WINDOW = "30s"
FOR = "10s"
MONITOR_INTERVAL_S = "5"
# Bounds on each phase. Firing takes the export, scrape and evaluation
# intervals (1 s each) plus the 10 s "for", and at most one monitor interval
# in the process. Resolving takes until the slow requests leave the 30 s window.
DATA_TIMEOUT = 45.0
FIRING_TIMEOUT = 60.0
RESOLVED_TIMEOUT = 90.0
SLOW_WORKERS = 6
FAST_PAUSE_S = 0.05


@dataclass
class AlertCycle:
    """What Prometheus and the admin endpoint showed in each phase."""

    recorded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    memory: list[dict[str, Any]] = field(default_factory=list)
    firing_in_prometheus: list[dict[str, Any]] = field(default_factory=list)
    firing_in_process: dict[str, Any] = field(default_factory=dict)
    resolved_in_prometheus: list[dict[str, Any]] | None = None
    resolved_in_process: dict[str, Any] = field(default_factory=dict)


class Traffic:
    """Request loops in daemon threads, each stopped by its own event."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._threads: list[tuple[threading.Thread, threading.Event]] = []

    def start(self, path: str, workers: int, pause_s: float = 0.0) -> threading.Event:
        stop = threading.Event()
        for _ in range(workers):
            thread = threading.Thread(target=self._loop, args=(path, pause_s, stop), daemon=True)
            thread.start()
            self._threads.append((thread, stop))
        return stop

    def _loop(self, path: str, pause_s: float, stop: threading.Event) -> None:
        with httpx.Client(base_url=self._base_url, timeout=10) as http:
            while not stop.is_set():
                # A failed request only thins the traffic, and the phases check the outcome.
                with contextlib.suppress(httpx.HTTPError):
                    http.get(path)
                stop.wait(pause_s)

    def stop_all(self) -> None:
        for _, stop in self._threads:
            stop.set()
        for thread, _ in self._threads:
            thread.join(15)


def _render_rules(rules_dir: Path) -> None:
    """Render short-window rules with the CLI, from the default thresholds."""
    command = [
        sys.executable,
        "-m",
        "otel_flux.cli",
        "alerts",
        "render",
        "--window",
        WINDOW,
        "--for",
        FOR,
        "--output",
        str(rules_dir / "flux-alerts.yml"),
    ]
    # No FLUX_ALERT_* variables reach the command, so the rules use the defaults.
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def _prometheus(stack: StackConfig, path: str, **query: str) -> Any:
    url = f"http://127.0.0.1:{stack.port(config.PROMETHEUS_PORT)}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    return health.get_json(url)["data"]


def _query(stack: StackConfig, promql: str) -> list[dict[str, Any]]:
    try:
        result: list[dict[str, Any]] = _prometheus(stack, "/api/v1/query", query=promql)["result"]
    except (OSError, ValueError):
        return []
    return result


def _prometheus_alert(stack: StackConfig) -> list[dict[str, Any]]:
    """Return the active (pending or firing) HTTP latency alerts of the service."""
    alerts: list[dict[str, Any]] = _prometheus(stack, "/api/v1/alerts")["alerts"]
    return [
        alert
        for alert in alerts
        if alert["labels"]["alertname"] == HTTP_LATENCY and alert["labels"]["job"] == SERVICE_NAME
    ]


def _process_alert(stack: StackConfig, token: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{stack.port(config.SERVICE_PORT)}/_flux/alerts"
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return next(alert for alert in alerts if alert["name"] == HTTP_LATENCY)


def _wait(check: Callable[[], bool], timeout: float, condition: str) -> None:
    started = time.monotonic()

    def checked() -> bool:
        try:
            return check()
        except (OSError, ValueError, httpx.HTTPError):
            return False

    if not health.wait_until(checked, timeout, interval=1.0):
        pytest.fail(f"timed out after {timeout:.0f} s waiting for: {condition}")
    print(f"{condition}: after {time.monotonic() - started:.1f} s")


def _wait_for_recorded_series(stack: StackConfig, cycle: AlertCycle) -> None:
    selector = f'{{job="{SERVICE_NAME}"}}'

    def all_recorded() -> bool:
        for name in recording_names(WINDOW).values():
            cycle.recorded[name] = _query(stack, name + selector)
        cycle.memory = _query(stack, f"process_memory_usage_bytes{selector}")
        return all(cycle.recorded.values()) and bool(cycle.memory)

    health.wait_until(all_recorded, DATA_TIMEOUT, interval=1.0)


def _wait_for_firing(stack: StackConfig, token: str, cycle: AlertCycle) -> None:
    def firing() -> bool:
        cycle.firing_in_prometheus = [
            alert for alert in _prometheus_alert(stack) if alert["state"] == "firing"
        ]
        cycle.firing_in_process = _process_alert(stack, token)
        return bool(cycle.firing_in_prometheus) and cycle.firing_in_process["state"] == "firing"

    _wait(firing, FIRING_TIMEOUT, "firing in Prometheus and in the process")


def _wait_for_resolved(stack: StackConfig, token: str, cycle: AlertCycle) -> None:
    def resolved() -> bool:
        cycle.resolved_in_prometheus = _prometheus_alert(stack)
        cycle.resolved_in_process = _process_alert(stack, token)
        return not cycle.resolved_in_prometheus and cycle.resolved_in_process["state"] == "ok"

    _wait(resolved, RESOLVED_TIMEOUT, "resolved in Prometheus and in the process")


@pytest.fixture(scope="module")
def alert_cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertCycle]:
    """Run the stack with short-window rules through the three phases."""
    built = require_binaries()
    run_dir = tmp_path_factory.mktemp("alerts-run")
    rules_dir = run_dir / "rules"
    rules_dir.mkdir()
    _render_rules(rules_dir)

    environ = stack_environ(run_dir)
    environ["FLUX_STACK_APP"] = "tests.e2e.stack.alerts_app:app"
    environ["FLUX_STACK_RULES_DIR"] = str(rules_dir)
    environ["FLUX_STACK_PROMETHEUS_INTERVAL_S"] = "1"
    stack = config.load(environ)
    token = secrets.token_urlsafe(16)
    traffic = Traffic(f"http://127.0.0.1:{stack.port(config.SERVICE_PORT)}")
    cycle = AlertCycle()
    try:
        # The stack passes its own process environment to the service, so the
        # service settings go there for the duration of the start.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FLUX_ADMIN_TOKEN", token)
            patch.setenv("FLUX_MONITOR_INTERVAL_S", MONITOR_INTERVAL_S)
            patch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            runner.up(stack, built, say=print)

        traffic.start("/fast", workers=1, pause_s=FAST_PAUSE_S)
        _wait_for_recorded_series(stack, cycle)

        slow = traffic.start("/slow", workers=SLOW_WORKERS)
        _wait_for_firing(stack, token, cycle)
        slow.set()

        _wait_for_resolved(stack, token, cycle)
        yield cycle
    finally:
        traffic.stop_all()
        runner.down(stack, say=print)


@pytest.mark.parametrize("key", list(recording_names(WINDOW)))
def test_recording_rule_has_data(alert_cycle: AlertCycle, key: str) -> None:
    """Each recording rule matches the names the Collector's exporter writes."""
    name = recording_names(WINDOW)[key]

    assert alert_cycle.recorded[name] != [], f"{name} returned no series"


def test_error_ratio_is_zero(alert_cycle: AlertCycle) -> None:
    """No response was a 5xx, so the error ratio is 0 rather than absent."""
    series = alert_cycle.recorded[recording_names(WINDOW)["http_error_ratio"]]

    assert [float(row["value"][1]) for row in series] == [0.0]


def test_route_p99_names_route(alert_cycle: AlertCycle) -> None:
    series = alert_cycle.recorded[recording_names(WINDOW)["http_route_p99"]]

    assert {row["metric"]["http_route"] for row in series} == {"/fast"}


def test_memory_gauge_matches_rule(alert_cycle: AlertCycle) -> None:
    """FluxMemoryHigh reads process_memory_usage_bytes, the resident set size."""
    mib = [float(row["value"][1]) / 1048576 for row in alert_cycle.memory]

    assert len(mib) == 1
    assert 10 < mib[0] < Thresholds().memory_mb


def test_prometheus_alert_fired(alert_cycle: AlertCycle) -> None:
    alert = alert_cycle.firing_in_prometheus[0]

    assert alert["labels"]["severity"] == "warning"
    assert float(alert["value"]) > Thresholds().http_p99_s


def test_process_alert_fired(alert_cycle: AlertCycle) -> None:
    alert = alert_cycle.firing_in_process

    assert alert["evaluated"] is True
    assert alert["value"] > Thresholds().http_p99_ms


def test_both_sides_resolved(alert_cycle: AlertCycle) -> None:
    assert alert_cycle.resolved_in_prometheus == []
    assert alert_cycle.resolved_in_process["state"] == "ok"
