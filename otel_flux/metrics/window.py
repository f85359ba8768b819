"""The figures of one monitor window: counters and sketches, and their JSON form.

A :class:`Window` accumulates one interval on the hot path. At the end of the
interval the monitor freezes it into a :class:`WindowRecord`, whose sketches
are compact arrays, and keeps the record in its history. A summary merges
several records back into a Window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from otel_flux.metrics.sketch import FrozenSketch, QuantileSketch
from otel_flux.metrics.system import SystemFigures

# Key of the overflow entry once a window has its maximum of routes, commands
# or error types. "_OTHER" is the semantic conventions' value for unknown methods.
OTHER_METHOD = "_OTHER"
OTHER = "_other"

RouteKey = tuple[str, str]  # (method, route template)


class _Sketch(Protocol):
    count: int
    total: float
    minimum: float
    maximum: float

    def quantile(self, quantile: float) -> float | None: ...


class Stats:
    """Operation count, failures and latency sketch of one route or Redis command."""

    __slots__ = ("failed", "sketch")

    def __init__(self, sketch: QuantileSketch) -> None:
        self.sketch = sketch
        self.failed = 0


class Window:
    """The mutable figures of one interval, or of several merged ones."""

    __slots__ = (
        "accuracy",
        "commands",
        "errors",
        "failed",
        "http",
        "http_over",
        "redis",
        "redis_failed",
        "redis_over",
        "routes",
    )

    def __init__(self, accuracy: float) -> None:
        self.accuracy = accuracy
        self.http = QuantileSketch(accuracy)
        self.failed = 0
        self.http_over = 0
        self.routes: dict[RouteKey, Stats] = {}
        self.redis = QuantileSketch(accuracy)
        self.redis_failed = 0
        self.redis_over = 0
        self.commands: dict[str, Stats] = {}
        self.errors: dict[str, int] = {}

    def new_stats(self) -> Stats:
        return Stats(QuantileSketch(self.accuracy))

    def copy(self) -> Window:
        """Copy the figures so they can be read while requests keep arriving."""
        clone = Window(self.accuracy)
        clone.http = self.http.copy()
        clone.failed = self.failed
        clone.http_over = self.http_over
        clone.routes = {key: _copy_stats(stats) for key, stats in self.routes.items()}
        clone.redis = self.redis.copy()
        clone.redis_failed = self.redis_failed
        clone.redis_over = self.redis_over
        clone.commands = {key: _copy_stats(stats) for key, stats in self.commands.items()}
        clone.errors = dict(self.errors)
        return clone

    def merge(self, record: WindowRecord) -> None:
        """Add a frozen record's figures, without the per-window key caps."""
        self.http.merge(record.http)
        self.failed += record.failed
        self.http_over += record.http_over
        for key, (failed, sketch) in record.routes.items():
            _merge_stats(self.routes.setdefault(key, self.new_stats()), failed, sketch)
        self.redis.merge(record.redis)
        self.redis_failed += record.redis_failed
        self.redis_over += record.redis_over
        for command, (failed, sketch) in record.commands.items():
            _merge_stats(self.commands.setdefault(command, self.new_stats()), failed, sketch)
        for error_type, count in record.errors.items():
            self.errors[error_type] = self.errors.get(error_type, 0) + count


def _copy_stats(stats: Stats) -> Stats:
    clone = Stats(stats.sketch.copy())
    clone.failed = stats.failed
    return clone


def _merge_stats(stats: Stats, failed: int, sketch: FrozenSketch) -> None:
    stats.failed += failed
    stats.sketch.merge(sketch)


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """One completed interval as kept in the history."""

    start: float  # Unix time, seconds
    end: float
    monotonic_end: float
    http: FrozenSketch
    failed: int
    http_over: int
    routes: dict[RouteKey, tuple[int, FrozenSketch]]
    redis: FrozenSketch
    redis_failed: int
    redis_over: int
    commands: dict[str, tuple[int, FrozenSketch]]
    errors: dict[str, int]
    system: SystemFigures | None
    accuracy: float
    alerts: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    def freeze(
        cls,
        window: Window,
        start: float,
        end: float,
        monotonic_end: float,
        system: SystemFigures | None,
        alerts: list[dict[str, object]],
    ) -> WindowRecord:
        return cls(
            start=start,
            end=end,
            monotonic_end=monotonic_end,
            http=window.http.freeze(),
            failed=window.failed,
            http_over=window.http_over,
            routes={k: (s.failed, s.sketch.freeze()) for k, s in window.routes.items()},
            redis=window.redis.freeze(),
            redis_failed=window.redis_failed,
            redis_over=window.redis_over,
            commands={k: (s.failed, s.sketch.freeze()) for k, s in window.commands.items()},
            errors=dict(window.errors),
            system=system,
            accuracy=window.accuracy,
            alerts=alerts,
        )

    def to_dict(self) -> dict[str, Any]:
        figures = describe(self._thaw(), self.start, self.end, self.system, complete=True)
        figures["alerts"] = self.alerts
        return figures

    def _thaw(self) -> Window:
        window = Window(self.accuracy)
        window.merge(self)
        return window


def latency_ms(sketch: _Sketch) -> dict[str, Any]:
    """Describe a sketch of durations in seconds as count, mean and quantiles in ms."""
    if sketch.count == 0:
        return {"count": 0, "mean": None, "min": None, "max": None}

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 4)

    return {
        "count": sketch.count,
        "mean": ms(sketch.total / sketch.count),
        "min": ms(sketch.minimum),
        "max": ms(sketch.maximum),
        "p50": ms(sketch.quantile(0.5)),
        "p95": ms(sketch.quantile(0.95)),
        "p99": ms(sketch.quantile(0.99)),
    }


def _rate_pct(failed: int, total: int) -> float | None:
    return round(failed / total * 100.0, 4) if total else None


def describe(
    window: Window, start: float, end: float, system: SystemFigures | None, complete: bool
) -> dict[str, Any]:
    """Render a window as the JSON document the admin endpoint serves."""
    total = window.http.count
    routes = [
        {
            "method": method,
            "route": route,
            "requests": stats.sketch.count,
            "failed": stats.failed,
            "error_rate_pct": _rate_pct(stats.failed, stats.sketch.count),
            "latency_ms": latency_ms(stats.sketch),
        }
        for (method, route), stats in sorted(
            window.routes.items(), key=lambda item: (-item[1].sketch.count, item[0][1], item[0][0])
        )
    ]
    commands = [
        {
            "command": command,
            "operations": stats.sketch.count,
            "failed": stats.failed,
            "latency_ms": latency_ms(stats.sketch),
        }
        for command, stats in sorted(
            window.commands.items(), key=lambda item: (-item[1].sketch.count, item[0])
        )
    ]

    return {
        "start": start,
        "end": end,
        "duration_s": round(end - start, 3),
        "complete": complete,
        "requests": {
            "total": total,
            "successful": total - window.failed,
            "failed": window.failed,
            "error_rate_pct": _rate_pct(window.failed, total),
        },
        "latency_ms": latency_ms(window.http),
        "routes": routes,
        "redis": {
            "operations": window.redis.count,
            "failed": window.redis_failed,
            "latency_ms": latency_ms(window.redis),
            "commands": commands,
        },
        "errors": dict(sorted(window.errors.items(), key=lambda item: -item[1])),
        "system": None if system is None else system.to_dict(),
    }
