"""Bounded waiting with an injected clock."""

from __future__ import annotations

from otel_flux.stack.health import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_returns_when_check_passes() -> None:
    clock = FakeClock()
    results = iter([False, False, True])

    ok = wait_until(lambda: next(results), 10.0, interval=1.0, clock=clock, sleep=clock.sleep)

    assert ok
    assert clock.sleeps == [1.0, 1.0]


def test_wait_gives_up_at_timeout() -> None:
    clock = FakeClock()

    ok = wait_until(lambda: False, 3.0, interval=1.0, clock=clock, sleep=clock.sleep)

    assert not ok
    assert clock.now == 3.0


def test_wait_checks_once_with_zero_timeout() -> None:
    clock = FakeClock()
    calls = []

    wait_until(lambda: calls.append(1) is not None, 0.0, clock=clock, sleep=clock.sleep)

    assert calls == [1]
