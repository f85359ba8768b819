"""The alert thresholds: one definition for the in-process alerts, the Views and the rules.

Each alert is declared once here with the setting that contains its threshold. The
metric Views put every latency threshold on a histogram bucket edge, the
in-process evaluator compares the monitor's figures with the same values, and
``otel-flux alerts render`` writes the Prometheus rules from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from otel_flux.settings import Setting, define, float_parser

HTTP_P99_MS: Setting[float] = define(
    "FLUX_ALERT_HTTP_P99_MS",
    1000,
    float_parser(minimum=0.001),
    accepted="a number of milliseconds of at least 0.001",
    doc="FluxHttpLatencyP99High fires when the p99 HTTP server latency is above this.",
    group="alerts",
)

ERROR_RATE_PCT: Setting[float] = define(
    "FLUX_ALERT_ERROR_RATE_PCT",
    1,
    float_parser(minimum=0.0, maximum=100.0),
    accepted="a percentage from 0 to 100",
    doc="FluxErrorRateHigh fires when the share of HTTP 5xx responses is above this.",
    group="alerts",
)

MEMORY_MB: Setting[float] = define(
    "FLUX_ALERT_MEMORY_MB",
    500,
    float_parser(minimum=1.0),
    accepted="a number of MiB of at least 1",
    doc="FluxMemoryHigh fires when the resident memory of the process is above this (MiB).",
    group="alerts",
)

CPU_PCT: Setting[float] = define(
    "FLUX_ALERT_CPU_PCT",
    80,
    float_parser(minimum=0.0, maximum=100.0),
    accepted="a percentage from 0 to 100",
    doc=(
        "FluxCpuHigh fires when the process CPU utilization, as a share of all "
        "logical CPUs, averaged over the evaluation window, is above this."
    ),
    group="alerts",
)

REDIS_P99_MS: Setting[float] = define(
    "FLUX_ALERT_REDIS_P99_MS",
    50,
    float_parser(minimum=0.001),
    accepted="a number of milliseconds of at least 0.001",
    doc="FluxRedisLatencyP99High fires when the p99 Redis operation latency is above this.",
    group="alerts",
)

MIN_REQUESTS_PER_MIN: Setting[float] = define(
    "FLUX_ALERT_MIN_REQUESTS_PER_MIN",
    10,
    float_parser(minimum=0.0),
    accepted="a number of requests per minute, 0 or more",
    doc=(
        "Traffic guard: the latency and error-rate alerts stay quiet while the "
        "request (or Redis operation) rate is below this, so a few slow requests "
        "on an idle service do not page anyone."
    ),
    group="alerts",
)

HTTP_LATENCY = "FluxHttpLatencyP99High"
ERROR_RATE = "FluxErrorRateHigh"
MEMORY = "FluxMemoryHigh"
CPU = "FluxCpuHigh"
REDIS_LATENCY = "FluxRedisLatencyP99High"


@dataclass(frozen=True, slots=True)
class AlertDefinition:
    """One alert: its name, the setting with its threshold, and the threshold's unit."""

    name: str
    setting: Setting[float]
    unit: str
    summary: str


ALERTS: tuple[AlertDefinition, ...] = (
    AlertDefinition(HTTP_LATENCY, HTTP_P99_MS, "ms", "HTTP server p99 latency is high"),
    AlertDefinition(ERROR_RATE, ERROR_RATE_PCT, "%", "HTTP 5xx error rate is high"),
    AlertDefinition(MEMORY, MEMORY_MB, "MiB", "Process resident memory is high"),
    AlertDefinition(CPU, CPU_PCT, "%", "Process CPU utilization is high"),
    AlertDefinition(REDIS_LATENCY, REDIS_P99_MS, "ms", "Redis operation p99 latency is high"),
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The threshold of every alert, in the units of its setting."""

    http_p99_ms: float = 1000.0
    error_rate_pct: float = 1.0
    memory_mb: float = 500.0
    cpu_pct: float = 80.0
    redis_p99_ms: float = 50.0
    min_requests_per_min: float = 10.0

    def by_alert(self) -> dict[str, float]:
        """Map each alert name to its threshold."""
        return {
            HTTP_LATENCY: self.http_p99_ms,
            ERROR_RATE: self.error_rate_pct,
            MEMORY: self.memory_mb,
            CPU: self.cpu_pct,
            REDIS_LATENCY: self.redis_p99_ms,
        }

    @property
    def http_p99_s(self) -> float:
        return self.http_p99_ms / 1000.0

    @property
    def redis_p99_s(self) -> float:
        return self.redis_p99_ms / 1000.0


def read_thresholds(
    environ: Mapping[str, str] | None = None, *, strict: bool = False
) -> Thresholds:
    """Read every threshold from the environment.

    With ``strict`` an invalid value raises ConfigError. Otherwise it is logged,
    counted and replaced by the default, as for every other setting.
    """

    def read(setting: Setting[float]) -> float:
        value = setting.read_strict(environ) if strict else setting.read(environ)
        return float(value)

    return Thresholds(
        http_p99_ms=read(HTTP_P99_MS),
        error_rate_pct=read(ERROR_RATE_PCT),
        memory_mb=read(MEMORY_MB),
        cpu_pct=read(CPU_PCT),
        redis_p99_ms=read(REDIS_P99_MS),
        min_requests_per_min=read(MIN_REQUESTS_PER_MIN),
    )
