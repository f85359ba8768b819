"""The built stack binaries, or a skip (a failure under FLUX_REQUIRE_STACK)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.stack import require_binaries


@pytest.fixture(scope="session")
def built_binaries() -> dict[str, Path]:
    return require_binaries()
