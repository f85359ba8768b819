"""Monitor: interval figures, rollover on the injected clock, history, caps, metrics."""

from __future__ import annotations

import random
import threading

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_flux.metrics import monitor as monitor_module
from otel_flux.metrics.monitor import Monitor, get_monitor, install, register_monitor_metrics
from otel_flux.metrics.sketch import nearest_rank_index
from otel_flux.metrics.window import OTHER, OTHER_METHOD
from tests.support.fakes import FakeClock, FixedProbe


def _monitor(clock: FakeClock, probe: FixedProbe, **options: int) -> Monitor:
    return Monitor(interval_s=60.0, clock=clock, wall_clock=clock, probe=probe, **options)


def test_request_counts(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    for status in (200, 201, 404, 500, 503):
        monitor.record_request("/login", "POST", status, 0.01)
    requests = monitor.current()["requests"]

    assert requests["total"] == 5
    assert requests["successful"] == 3
    assert requests["failed"] == 2
    assert requests["error_rate_pct"] == 40.0


def test_latency_percentiles_within_one_percent(clock: FakeClock, probe: FixedProbe) -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(-4, 1) for _ in range(5000)]
    monitor = _monitor(clock, probe)
    for value in values:
        monitor.record_request("/", "GET", 200, value)
    latency = monitor.current()["latency_ms"]
    ordered = sorted(values)

    for name, quantile in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact_ms = ordered[nearest_rank_index(quantile, len(ordered))] * 1000
        assert abs(latency[name] - exact_ms) <= 0.01 * exact_ms + 1e-4


def test_latency_min_max_mean(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    for value in (0.001, 0.002, 0.003):
        monitor.record_request("/", "GET", 200, value)
    latency = monitor.current()["latency_ms"]

    assert latency["min"] == 1.0
    assert latency["max"] == 3.0
    assert latency["mean"] == pytest.approx(2.0)


def test_routes_reported_separately(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    monitor.record_request("/a", "GET", 200, 0.01)
    monitor.record_request("/a", "GET", 500, 0.01)
    monitor.record_request("/b", "GET", 200, 0.01)
    routes = {entry["route"]: entry for entry in monitor.current()["routes"]}

    assert routes["/a"]["requests"] == 2
    assert routes["/a"]["failed"] == 1
    assert routes["/b"]["requests"] == 1


def test_route_cap_uses_overflow(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe, max_routes=2)
    for index in range(5):
        monitor.record_request(f"/r{index}", "GET", 200, 0.01)
    routes = {(entry["method"], entry["route"]) for entry in monitor.current()["routes"]}

    assert routes == {("GET", "/r0"), ("GET", "/r1"), (OTHER_METHOD, OTHER)}


def test_redis_commands_and_errors(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    monitor.record_redis("GET", 0.001, None)
    monitor.record_redis("GET", 0.002, "TimeoutError")
    monitor.record_redis("SET", 0.001, None)
    redis = monitor.current()["redis"]
    commands = {entry["command"]: entry for entry in redis["commands"]}

    assert redis["operations"] == 3
    assert redis["failed"] == 1
    assert commands["GET"]["operations"] == 2
    assert commands["GET"]["failed"] == 1
    assert monitor.current()["errors"] == {"TimeoutError": 1}


def test_command_cap_uses_overflow(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe, max_commands=1)
    monitor.record_redis("GET", 0.001, None)
    monitor.record_redis("SET", 0.001, None)
    commands = {entry["command"] for entry in monitor.current()["redis"]["commands"]}

    assert commands == {"GET", OTHER}


def test_error_type_cap_uses_overflow(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe, max_error_types=1)
    monitor.record_error("ValueError")
    monitor.record_error("KeyError")

    assert monitor.current()["errors"] == {"ValueError": 1, OTHER: 1}


def test_invalid_duration_counts_as_zero(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    monitor.record_request("/", "GET", 200, float("nan"))
    monitor.record_request("/", "GET", 200, -1.0)

    assert monitor.current()["latency_ms"]["max"] == 0.0


def test_no_rollover_before_interval_end(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    clock.advance(59.9)

    assert monitor.tick() is None


def test_rollover_at_interval_end(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    monitor.record_request("/", "GET", 200, 0.01)
    clock.advance(60.0)
    record = monitor.tick()

    assert record is not None
    assert record.http.count == 1
    assert monitor.current()["requests"]["total"] == 0


def test_history_keeps_last_intervals(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = Monitor(interval_s=60.0, history_size=3, clock=clock, wall_clock=clock, probe=probe)
    for count in range(1, 6):
        for _ in range(count):
            monitor.record_request("/", "GET", 200, 0.01)
        clock.advance(60.0)
        monitor.tick()
    totals = [entry["requests"]["total"] for entry in monitor.history()]

    assert totals == [3, 4, 5]


def test_history_minutes_filter(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    for _ in range(10):
        clock.advance(60.0)
        monitor.tick()

    assert len(monitor.history(minutes=3)) == 3


def test_summary_merges_intervals(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    for status in (200, 500):
        monitor.record_request("/", "GET", status, 0.01)
        clock.advance(60.0)
        monitor.tick()
    summary = monitor.summary()

    assert summary["intervals"] == 2
    assert summary["requests"]["total"] == 2
    assert summary["requests"]["failed"] == 1
    assert summary["routes"][0]["requests"] == 2


def test_interval_records_system_figures(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    clock.advance(60.0)
    monitor.tick()
    system = monitor.history()[0]["system"]

    assert system["memory_rss_bytes"] == 100 * 1048576
    assert system["cpu_pct"] == 10.0


def test_memory_alert_fires_on_rollover(clock: FakeClock) -> None:
    monitor = _monitor(clock, FixedProbe(rss_mb=600.0))
    clock.advance(60.0)
    monitor.tick()
    states = {alert["name"]: alert["state"] for alert in monitor.alerts()}

    assert states["FluxMemoryHigh"] == "firing"
    assert states["FluxCpuHigh"] == "ok"


def test_latency_alert_fires_from_slow_tail(clock: FakeClock, probe: FixedProbe) -> None:
    monitor = _monitor(clock, probe)
    for index in range(100):
        monitor.record_request("/", "GET", 200, 2.0 if index < 2 else 0.01)
    clock.advance(60.0)
    monitor.tick()
    states = {alert["name"]: alert["state"] for alert in monitor.alerts()}

    assert states["FluxHttpLatencyP99High"] == "firing"


def test_failed_probe_leaves_system_empty(clock: FakeClock) -> None:
    def broken(cpu: bool) -> None:
        raise OSError("no /proc")

    monitor = Monitor(interval_s=60.0, clock=clock, wall_clock=clock, probe=broken)
    clock.advance(60.0)
    monitor.tick()

    assert monitor.history()[0]["system"] is None


def test_thread_rolls_and_stops(probe: FixedProbe) -> None:
    """The daemon thread ends intervals on its own and stops on shutdown."""
    clock = FakeClock()
    monitor = _monitor(clock, probe)
    rolled = threading.Event()
    original_roll = monitor.roll

    def roll() -> object:
        record = original_roll()
        rolled.set()
        return record

    monitor.roll = roll  # type: ignore[method-assign]
    monitor.start(poll_s=0.001)
    clock.advance(60.0)
    finished = rolled.wait(timeout=5.0)
    thread = monitor._thread
    monitor.shutdown()

    assert finished
    assert thread is not None
    assert not thread.is_alive()


def test_metrics_exported(clock: FakeClock, probe: FixedProbe) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monitor = _monitor(clock, FixedProbe(rss_mb=600.0))
    register_monitor_metrics(provider.get_meter("test"), monitor)
    monitor.record_error("ValueError")
    clock.advance(60.0)
    monitor.tick()
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    metrics = {m.name: m for m in data.resource_metrics[0].scope_metrics[0].metrics}
    active = {
        p.attributes["flux.alert.name"]: p.value
        for p in metrics["flux.alert.active"].data.data_points
        if p.attributes
    }
    errors = [p.value for p in metrics["flux.errors"].data.data_points]

    assert active["FluxMemoryHigh"] == 1
    assert active["FluxCpuHigh"] == 0
    assert errors == [1]


def test_install_disabled_returns_none() -> None:
    monitor = install({"FLUX_MONITOR_ENABLED": "false"}, start=False)

    assert monitor is None
    assert get_monitor() is None


def test_install_exports_system_gauges() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        monitor = install({}, meter_provider=provider, start=False)
        data = reader.get_metrics_data()
    finally:
        monitor_module.uninstall()
        provider.shutdown()
    assert data is not None
    names = {m.name for m in data.resource_metrics[0].scope_metrics[0].metrics}

    assert monitor is not None
    assert "process.memory.usage" in names
    assert "process.cpu.utilization" in names
    assert "system.cpu.load_average.1m" in names
    assert "process.uptime" in names


def test_forked_child_records_despite_held_lock(clock: FakeClock, probe: FixedProbe) -> None:
    """A lock held at fork time must not freeze the child (gunicorn forks workers)."""
    import os

    monitor = _monitor(clock, probe)
    monitor.record_request("/parent", "GET", 200, 0.01)
    read_end, write_end = os.pipe()

    with monitor._lock:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            monitor.record_request("/child", "GET", 200, 0.01)
            total = monitor.current()["requests"]["total"]
            os.write(write_end, str(total).encode())
            os._exit(0)
    os.close(write_end)
    child_total = os.read(read_end, 20).decode()
    os.waitpid(pid, 0)
    os.close(read_end)

    assert child_total == "1"
    assert monitor.current()["requests"]["total"] == 1
