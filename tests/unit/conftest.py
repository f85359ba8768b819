"""Fixtures of the unit tests: an injected clock and a fixed system probe."""

from __future__ import annotations

import pytest

from tests.support.fakes import FakeClock, FixedProbe


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def probe() -> FixedProbe:
    return FixedProbe()
