"""Process and host figures from psutil, for the monitor and as OpenTelemetry gauges.

Exported instruments, with the names the Collector's Prometheus exporter gives them:

=============================  ======  ======================================
OpenTelemetry name             unit    Prometheus name
=============================  ======  ======================================
process.memory.usage           By      process_memory_usage_bytes (resident)
process.memory.virtual         By      process_memory_virtual_bytes
process.cpu.utilization        1       process_cpu_utilization_ratio
process.uptime                 s       process_uptime_seconds
system.cpu.logical.count       {cpu}   system_cpu_logical_count
system.cpu.load_average.1m     {thread}  system_cpu_load_average_1m (also 5m, 15m)
=============================  ======  ======================================

``process.cpu.utilization`` is the CPU time of the process since the previous
sample, divided by the elapsed time and by the logical CPUs the process may run
on. So it lies in [0, 1], as the semantic conventions define it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, Observation

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SystemFigures:
    """One sample of the process and host figures."""

    memory_rss_bytes: int
    memory_vms_bytes: int
    # Percent of all usable logical CPUs since the previous sample, None on the first.
    cpu_pct: float | None
    cpu_count: int
    load_average: tuple[float, float, float]
    uptime_s: float

    @property
    def memory_rss_mb(self) -> float:
        return self.memory_rss_bytes / 1048576.0

    def to_dict(self) -> dict[str, object]:
        figures = asdict(self)
        figures["load_average"] = list(self.load_average)
        return figures


def usable_cpu_count(process: psutil.Process) -> int:
    """Return the logical CPUs the process may run on (its affinity where supported)."""
    try:
        return len(process.cpu_affinity() or []) or psutil.cpu_count() or 1
    except (AttributeError, psutil.Error):
        return psutil.cpu_count() or 1


class SystemProbe:
    """Sampler of the current process. Each probe measures CPU since its own last sample."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._process = psutil.Process(os.getpid())
        self._clock = clock
        self._lock = threading.Lock()
        self._started = self._process.create_time()
        self._cpu_count = usable_cpu_count(self._process)
        self._process.cpu_percent(None)

    def sample(self, cpu: bool = True) -> SystemFigures:
        """Sample the figures. With ``cpu`` False the CPU baseline stays where it is."""
        with self._lock:
            memory = self._process.memory_info()
            cpu_pct = self._process.cpu_percent(None) / self._cpu_count if cpu else None
        load = psutil.getloadavg()
        return SystemFigures(
            memory_rss_bytes=memory.rss,
            memory_vms_bytes=memory.vms,
            cpu_pct=cpu_pct,
            cpu_count=self._cpu_count,
            load_average=(load[0], load[1], load[2]),
            uptime_s=max(0.0, self._clock() - self._started),
        )


class _CachedSample:
    """One probe sample shared by the gauge callbacks of one collection."""

    def __init__(self, probe: SystemProbe, max_age_s: float = 1.0) -> None:
        self._probe = probe
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._sampled_at = -float("inf")
        self._figures: SystemFigures | None = None

    def get(self) -> SystemFigures | None:
        with self._lock:
            now = time.monotonic()
            if self._figures is None or now - self._sampled_at > self._max_age_s:
                try:
                    self._figures = self._probe.sample()
                except psutil.Error:
                    _logger.warning("sampling process figures failed", exc_info=True)
                    self._figures = None
                self._sampled_at = now
            return self._figures


def register_system_metrics(meter: Meter, probe: SystemProbe) -> None:
    """Create the observable gauges of the process and host figures on ``meter``."""
    cache = _CachedSample(probe)

    def gauge(
        read: Callable[[SystemFigures], float | None],
    ) -> Callable[..., Iterable[Observation]]:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            figures = cache.get()
            value = None if figures is None else read(figures)
            return [] if value is None else [Observation(value)]

        return callback

    def load_average(index: int) -> Callable[[SystemFigures], float]:
        return lambda figures: figures.load_average[index]

    def cpu_ratio(figures: SystemFigures) -> float | None:
        return None if figures.cpu_pct is None else figures.cpu_pct / 100.0

    meter.create_observable_gauge(
        "process.memory.usage",
        [gauge(lambda f: f.memory_rss_bytes)],
        unit="By",
        description="Resident memory of the process.",
    )
    meter.create_observable_gauge(
        "process.memory.virtual",
        [gauge(lambda f: f.memory_vms_bytes)],
        unit="By",
        description="Virtual memory of the process.",
    )
    meter.create_observable_gauge(
        "process.cpu.utilization",
        [gauge(cpu_ratio)],
        unit="1",
        description="CPU time of the process per elapsed time and usable logical CPU.",
    )
    meter.create_observable_gauge(
        "process.uptime",
        [gauge(lambda f: f.uptime_s)],
        unit="s",
        description="Time since the process started.",
    )
    meter.create_observable_gauge(
        "system.cpu.logical.count",
        [gauge(lambda f: f.cpu_count)],
        unit="{cpu}",
        description="Logical CPUs the process may run on.",
    )
    for index, window in enumerate(("1m", "5m", "15m")):
        meter.create_observable_gauge(
            f"system.cpu.load_average.{window}",
            [gauge(load_average(index))],
            unit="{thread}",
            description=f"Host load average over {window}.",
        )
