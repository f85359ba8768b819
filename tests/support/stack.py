"""Helpers to start a stack for tests: binaries, free ports and its environment."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from pathlib import Path

import pytest

from otel_flux.stack import binaries, config


def require_binaries() -> dict[str, Path]:
    """Return the cached otelcol-flux and Jaeger, or skip or fail the test."""
    try:
        return binaries.ensure_built(config.load(), build=False)
    except binaries.MissingBinaryError as exc:
        if config.REQUIRE_STACK.read_strict():
            pytest.fail(f"FLUX_REQUIRE_STACK is set but a binary is missing: {exc}")
        pytest.skip(f"stack binaries are not built: {exc}")


def free_ports(count: int) -> list[int]:
    """Return count distinct loopback ports that were free a moment ago."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def stack_environ(run_dir: Path) -> dict[str, str]:
    ports = free_ports(len(config.PORT_SETTINGS))
    environ = {
        setting.env: str(port) for setting, port in zip(config.PORT_SETTINGS, ports, strict=True)
    }
    environ["FLUX_RUN_DIR"] = str(run_dir)
    environ["FLUX_STACK_APP"] = "tests.e2e.stack.sample_app:app"
    environ["FLUX_STACK_START_TIMEOUT"] = "90"
    return environ
