"""Test doubles that replace time and system probes, so tests need no sleeping."""

from __future__ import annotations

from otel_flux.metrics.system import SystemFigures


class FakeClock:
    """A clock that moves only when the test advances it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FixedProbe:
    """System figures chosen by the test, returned on every sample."""

    def __init__(self, rss_mb: float = 100.0, cpu_pct: float = 10.0) -> None:
        self.rss_mb = rss_mb
        self.cpu_pct = cpu_pct

    def __call__(self, cpu: bool) -> SystemFigures:
        return SystemFigures(
            memory_rss_bytes=int(self.rss_mb * 1048576),
            memory_vms_bytes=int(self.rss_mb * 4 * 1048576),
            cpu_pct=self.cpu_pct if cpu else None,
            cpu_count=2,
            load_average=(0.5, 0.4, 0.3),
            uptime_s=12.0,
        )
