"""The in-process monitor: per-interval figures, a 60-interval history and alerts.

The instrumentation calls :meth:`Monitor.record_request`,
:meth:`Monitor.record_redis` and :meth:`Monitor.record_error` on the hot path.
Each call takes one uncontended lock and updates a few counters and sketches,
a few microseconds in CPython (see docs/benchmarks.md). A daemon thread ends
the interval once the injected clock passes its end. It swaps in a fresh
window under the lock and then computes the figures, samples psutil and
evaluates the alerts outside the lock, so requests do not wait for that work.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from otel_flux.alerts.evaluator import AlertEvaluator, AlertInputs
from otel_flux.alerts.thresholds import Thresholds, read_thresholds
from otel_flux.metrics import config
from otel_flux.metrics.sketch import DEFAULT_RELATIVE_ACCURACY, MAX_VALUE
from otel_flux.metrics.system import SystemFigures, SystemProbe, register_system_metrics
from otel_flux.metrics.window import OTHER, OTHER_METHOD, Stats, Window, WindowRecord, describe

_logger = logging.getLogger(__name__)

_monitor: Monitor | None = None
_install_lock = threading.Lock()


class Monitor:
    """Aggregates requests, Redis operations, errors and system figures per interval."""

    def __init__(
        self,
        *,
        thresholds: Thresholds | None = None,
        interval_s: float = 60.0,
        history_size: int = 60,
        max_routes: int = 100,
        max_commands: int = 50,
        max_error_types: int = 50,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        probe: Callable[[bool], SystemFigures | None] | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"monitor interval {interval_s} s must be positive")
        self.thresholds = thresholds or Thresholds()
        self.interval_s = interval_s
        self._max_routes = max_routes
        self._max_commands = max_commands
        self._max_error_types = max_error_types
        self._accuracy = relative_accuracy
        self._clock = clock
        self._wall_clock = wall_clock
        self._probe = probe if probe is not None else _default_probe()
        self.evaluator = AlertEvaluator(self.thresholds, tracer_provider)

        self._http_threshold_s = self.thresholds.http_p99_s
        self._redis_threshold_s = self.thresholds.redis_p99_s
        self._lock = threading.Lock()
        self._window = Window(relative_accuracy)
        # Every sketch of a monitor has the same accuracy, so one key() serves all.
        self._key = self._window.http.key
        self._start = wall_clock()
        self._end = clock() + interval_s
        self._history: collections.deque[WindowRecord] = collections.deque(maxlen=history_size)
        self._history_lock = threading.Lock()
        self._errors_total: dict[str, int] = {}

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_s: float | None = None
        if hasattr(os, "register_at_fork"):
            handler = weakref.WeakMethod(self._after_fork_in_child)

            def after_fork_in_child() -> None:
                method = handler()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=after_fork_in_child)

    # Hot path.

    def record_request(self, route: str, method: str, status: int, duration_s: float) -> None:
        """Count one HTTP request. A status of 500 or more counts as failed."""
        if not 0.0 <= duration_s <= MAX_VALUE:
            duration_s = _clamp(duration_s)
        key = self._key(duration_s)
        failed = status >= 500
        with self._lock:
            window = self._window
            window.http.add_keyed(key, duration_s)
            stats = window.routes.get((method, route))
            if stats is None:
                stats = self._route_stats(window, method, route)
            stats.sketch.add_keyed(key, duration_s)
            if failed:
                window.failed += 1
                stats.failed += 1
            if duration_s > self._http_threshold_s:
                window.http_over += 1

    def record_redis(self, command: str, duration_s: float, error_type: str | None) -> None:
        """Count one Redis operation. An ``error_type`` marks it failed and is counted too."""
        if not 0.0 <= duration_s <= MAX_VALUE:
            duration_s = _clamp(duration_s)
        key = self._key(duration_s)
        with self._lock:
            window = self._window
            window.redis.add_keyed(key, duration_s)
            stats = window.commands.get(command)
            if stats is None:
                stats = self._capped(window.commands, command, self._max_commands, window)
            stats.sketch.add_keyed(key, duration_s)
            if error_type is not None:
                window.redis_failed += 1
                stats.failed += 1
                self._count_error(window, error_type)
            if duration_s > self._redis_threshold_s:
                window.redis_over += 1

    def record_error(self, error_type: str) -> None:
        """Count one error outside Redis calls (Redis errors come with record_redis)."""
        with self._lock:
            self._count_error(self._window, error_type)

    def _route_stats(self, window: Window, method: str, route: str) -> Stats:
        if len(window.routes) >= self._max_routes:
            return window.routes.setdefault((OTHER_METHOD, OTHER), window.new_stats())
        return window.routes.setdefault((method, route), window.new_stats())

    def _capped(self, table: dict[str, Stats], key: str, limit: int, window: Window) -> Stats:
        if len(table) >= limit:
            key = OTHER
        return table.setdefault(key, window.new_stats())

    def _count_error(self, window: Window, error_type: str) -> None:
        errors = window.errors
        if error_type not in errors and len(errors) >= self._max_error_types:
            error_type = OTHER
        errors[error_type] = errors.get(error_type, 0) + 1
        totals = self._errors_total
        if error_type not in totals and len(totals) >= self._max_error_types:
            error_type = OTHER
        totals[error_type] = totals.get(error_type, 0) + 1

    # Interval rollover.

    def tick(self) -> WindowRecord | None:
        """End the interval once the clock passes its end, and return the completed record."""
        if self._clock() < self._end:
            return None
        return self.roll()

    def roll(self) -> WindowRecord:
        """End the current interval now, evaluate the alerts and add it to the history."""
        now = self._clock()
        wall_now = self._wall_clock()
        with self._lock:
            window = self._window
            self._window = Window(self._accuracy)
            start = self._start
            self._start = wall_now
            self._end = now + self.interval_s

        system = self._sample(cpu=True)
        inputs = _alert_inputs(window, wall_now - start, system)
        self.evaluator.evaluate(inputs)
        alerts = [decision.to_dict() for decision in self.evaluator.decisions()]
        record = WindowRecord.freeze(window, start, wall_now, now, system, alerts)
        with self._history_lock:
            self._history.append(record)
        return record

    def _sample(self, cpu: bool) -> SystemFigures | None:
        try:
            return self._probe(cpu)
        except Exception:  # psutil raises several types, and the monitor must keep running.
            _logger.warning("sampling process figures failed; the interval has none", exc_info=True)
            return None

    # Reading.

    def current(self) -> dict[str, Any]:
        """Describe the interval in progress (``complete`` is false)."""
        with self._lock:
            window = self._window.copy()
            start = self._start
        return describe(window, start, self._wall_clock(), self._sample(cpu=False), False)

    def records(self, minutes: float | None = None) -> list[WindowRecord]:
        """Return the completed intervals that ended within the last ``minutes``, oldest first."""
        with self._history_lock:
            records = list(self._history)
        if minutes is None:
            return records
        cutoff = self._clock() - minutes * 60.0
        return [record for record in records if record.monotonic_end > cutoff]

    def history(self, minutes: float | None = None) -> list[dict[str, Any]]:
        """Describe the completed intervals of the last ``minutes`` (all kept when None)."""
        return [record.to_dict() for record in self.records(minutes)]

    def summary(self, minutes: float | None = None) -> dict[str, Any]:
        """Describe all completed intervals of the last ``minutes`` merged into one window."""
        records = self.records(minutes)
        merged = Window(self._accuracy)
        for record in records:
            merged.merge(record)
        if records:
            start, end, system = records[0].start, records[-1].end, records[-1].system
        else:
            start = end = self._wall_clock()
            system = None
        figures = describe(merged, start, end, system, complete=True)
        figures["intervals"] = len(records)
        figures["alerts"] = self.alerts()
        return figures

    def alerts(self) -> list[dict[str, object]]:
        return [decision.to_dict() for decision in self.evaluator.decisions()]

    def errors_total(self) -> dict[str, int]:
        """Errors by type since the monitor started."""
        with self._lock:
            return dict(self._errors_total)

    # Lifecycle.

    def start(self, poll_s: float | None = None) -> None:
        """Start the daemon thread that ends each interval."""
        if self._thread is not None:
            return
        poll = poll_s if poll_s is not None else min(1.0, self.interval_s / 10.0)
        self._poll_s = poll
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(poll,), name="flux-monitor", daemon=True
        )
        self._thread.start()

    def _run(self, poll_s: float) -> None:
        while not self._stop.wait(poll_s):
            try:
                self.tick()
            except Exception:  # the thread must survive any failure of one interval
                _logger.exception("ending a monitor interval failed; the next one continues")

    def _after_fork_in_child(self) -> None:
        """Start over in a forked worker (gunicorn, for example).

        A lock that the parent's thread held at the moment of the fork stays
        locked forever in the child, and the thread itself does not exist there.
        So the child gets new locks, its own thread, and an empty interval and
        history, because the parent's figures describe the parent.
        """
        self._lock = threading.Lock()
        self._history_lock = threading.Lock()
        self._window = Window(self._accuracy)
        self._history.clear()
        self._errors_total = {}
        self._start = self._wall_clock()
        self._end = self._clock() + self.interval_s
        self._stop = threading.Event()
        was_running = self._thread is not None
        self._thread = None
        if was_running and self._poll_s is not None:
            self.start(self._poll_s)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the thread. Recorded figures stay readable."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)


def _clamp(duration_s: float) -> float:
    """Map NaN and negative durations to 0 and huge ones to MAX_VALUE, keeping sums finite."""
    return MAX_VALUE if duration_s > MAX_VALUE else 0.0


def _alert_inputs(window: Window, window_s: float, system: SystemFigures | None) -> AlertInputs:
    def ms(value: float | None) -> float | None:
        return None if value is None else value * 1000.0

    return AlertInputs(
        window_s=window_s,
        requests=window.http.count,
        failed_requests=window.failed,
        requests_over_threshold=window.http_over,
        http_p99_ms=ms(window.http.quantile(0.99)),
        redis_operations=window.redis.count,
        redis_over_threshold=window.redis_over,
        redis_p99_ms=ms(window.redis.quantile(0.99)),
        memory_rss_mb=None if system is None else system.memory_rss_mb,
        cpu_pct=None if system is None else system.cpu_pct,
    )


def _default_probe() -> Callable[[bool], SystemFigures | None]:
    probe = SystemProbe()
    return probe.sample


def register_monitor_metrics(meter: metrics.Meter, monitor: Monitor) -> None:
    """Create the ``flux.alert.active`` gauge and the ``flux.errors`` counter."""

    def alert_active(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(active, {"flux.alert.name": name})
            for name, active in monitor.evaluator.active().items()
        ]

    def errors(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, {"error.type": error_type})
            for error_type, count in monitor.errors_total().items()
        ]

    meter.create_observable_gauge(
        "flux.alert.active",
        [alert_active],
        unit="{alert}",
        description="1 while the in-process alert fires, 0 otherwise.",
    )
    meter.create_observable_counter(
        "flux.errors",
        [errors],
        unit="{error}",
        description="Errors counted by the monitor, by error.type.",
    )


def get_monitor() -> Monitor | None:
    """Return the installed monitor, or None when none is installed."""
    return _monitor


def install(
    environ: Mapping[str, str] | None = None,
    *,
    meter_provider: metrics.MeterProvider | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    clock: Callable[[], float] = time.monotonic,
    start: bool = True,
) -> Monitor | None:
    """Create the monitor from the settings, export its metrics and start its thread.

    Returns None when FLUX_MONITOR_ENABLED is false. A second call returns the
    installed monitor unchanged.
    """
    global _monitor
    with _install_lock:
        if _monitor is not None:
            return _monitor
        if not config.MONITOR_ENABLED.read(environ):
            _logger.info("in-process monitor disabled by FLUX_MONITOR_ENABLED")
            return None

        monitor = Monitor(
            thresholds=read_thresholds(environ),
            interval_s=config.MONITOR_INTERVAL_S.read(environ),
            history_size=config.MONITOR_HISTORY.read(environ),
            max_routes=config.MONITOR_MAX_ROUTES.read(environ),
            max_commands=config.MONITOR_MAX_COMMANDS.read(environ),
            max_error_types=config.MONITOR_MAX_ERROR_TYPES.read(environ),
            clock=clock,
            tracer_provider=tracer_provider,
        )
        meter = metrics.get_meter(__name__, meter_provider=meter_provider)
        register_monitor_metrics(meter, monitor)
        register_system_metrics(meter, SystemProbe())
        if start:
            monitor.start()
            atexit.register(monitor.shutdown)
        _monitor = monitor
        _logger.info("in-process monitor started, interval %g s", monitor.interval_s)
        return monitor


def uninstall() -> None:
    """Stop and forget the installed monitor (for tests and a configurator shutdown)."""
    global _monitor
    with _install_lock:
        if _monitor is not None:
            _monitor.shutdown()
        _monitor = None
