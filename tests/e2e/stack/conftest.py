"""A whole local stack on free loopback ports, started once per module.

Every process is stopped when the module's tests finish, also when a test or
the start-up fails. A missing binary skips the tests unless FLUX_REQUIRE_STACK
is set, as .ci/run does; then it fails them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from otel_flux.stack import binaries, config, process, runner
from otel_flux.stack.components import COMPONENTS
from otel_flux.stack.config import StackConfig


def require_binaries() -> dict[str, Path]:
    """Return the cached otelcol-flux and Jaeger, or skip or fail the test."""
    try:
        return binaries.ensure_built(config.load(), build=False)
    except binaries.MissingBinaryError as exc:
        if config.REQUIRE_STACK.read_strict():
            pytest.fail(f"FLUX_REQUIRE_STACK is set but a binary is missing: {exc}")
        pytest.skip(f"stack binaries are not built; run deploy/local/build-binaries.sh ({exc})")


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


@pytest.fixture(scope="module")
def stack_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The FLUX_* variables of a running stack; the stack is stopped afterwards."""
    built = require_binaries()
    environ = stack_environ(tmp_path_factory.mktemp("stack-run"))
    settings = config.load(environ)
    started: dict[str, process.Tracked] = {}
    try:
        runner.up(settings, built, say=print)
        for component in COMPONENTS:
            tracked = process.read(settings.run_dir, component.name)
            if tracked is not None:
                started[component.name] = tracked
        yield environ
    finally:
        runner.down(settings, say=print)
        leftover = [name for name, tracked in started.items() if process.is_running(tracked)]
        assert leftover == [], f"processes still running after stack down: {leftover}"


@pytest.fixture(scope="module")
def stack(stack_environment: dict[str, str]) -> StackConfig:
    return config.load(stack_environment)
