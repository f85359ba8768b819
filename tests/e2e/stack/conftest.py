"""A whole local stack on free loopback ports, started once per module.

Every process is stopped when the module's tests finish, also when a test or
the start-up fails. A missing binary skips the tests unless FLUX_REQUIRE_STACK
is set, as .ci/run does; then it fails them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_flux.stack import config, process, runner
from otel_flux.stack.components import COMPONENTS
from otel_flux.stack.config import StackConfig
from tests.support.stack import require_binaries, stack_environ


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
