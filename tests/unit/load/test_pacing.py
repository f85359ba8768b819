"""The fixed-rate schedule that paces each simulated client."""

from __future__ import annotations

import pytest

from otel_flux.load.pacing import Schedule


class FakeClock:
    """A clock that moves only when the test advances it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_schedule_counts_from_start_not_creation() -> None:
    """The start offset sets the phase of every later request, not only the first."""
    clock = FakeClock(100.0)
    schedule = Schedule(6.0, clock)
    clock.now = 104.5  # the start offset
    schedule.start()
    clock.now = 104.51  # the first request took 10 ms

    first_wait = schedule.wait_s()
    clock.now = 110.5 + 0.02  # the second request took 20 ms
    second_wait = schedule.wait_s()

    assert first_wait == pytest.approx(5.99)
    assert second_wait == pytest.approx(5.98)


def test_schedule_late_client_restarts_from_now() -> None:
    """A client more than one interval late waits 0 once, then a full interval."""
    clock = FakeClock(0.0)
    schedule = Schedule(1.0, clock)
    schedule.start()
    clock.now = 3.5  # the first request took 3.5 s

    late_wait = schedule.wait_s()
    clock.now = 3.6
    next_wait = schedule.wait_s()

    assert late_wait == 0.0
    assert next_wait == pytest.approx(0.9)


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_schedule_rejects_invalid_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="invalid interval"):
        Schedule(interval)
