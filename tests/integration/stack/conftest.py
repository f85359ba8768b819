"""The built stack binaries, or a skip (a failure under FLUX_REQUIRE_STACK)."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_flux.stack import binaries, config


@pytest.fixture(scope="session")
def built_binaries() -> dict[str, Path]:
    try:
        return binaries.ensure_built(config.load(), build=False)
    except binaries.MissingBinaryError as exc:
        if config.REQUIRE_STACK.read_strict():
            pytest.fail(f"FLUX_REQUIRE_STACK is set but a binary is missing: {exc}")
        pytest.skip(f"stack binaries are not built; run deploy/local/build-binaries.sh ({exc})")
