"""Three sample-service instances behind nginx, with the whole pipeline, once per module.

The real demo app runs, so the security middleware and the shared Redis
decide. Every process is stopped afterwards, also when a test or the start-up
fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from otel_flux.settings import Setting
from otel_flux.stack import config, instances, process, runner
from otel_flux.stack.config import StackConfig
from tests.support.stack import free_ports, require_binaries, stack_environ

INSTANCES = 3


@dataclass(frozen=True, slots=True)
class ScaledStack:
    """A running stack with its instance layout."""

    config: StackConfig
    layout: instances.Layout

    def url(self, setting: Setting[int]) -> str:
        return f"http://127.0.0.1:{self.config.port(setting)}"


@pytest.fixture(scope="module")
def scaled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    built = require_binaries()
    environ = stack_environ(tmp_path_factory.mktemp("scale-run"))
    del environ["FLUX_STACK_APP"]
    environ[instances.INSTANCE_PORTS.env] = ",".join(map(str, free_ports(INSTANCES)))
    settings, components, layout = instances.select(config.load(environ), INSTANCES, environ)
    assert layout is not None
    instances.save_layout(settings.run_dir, layout)
    started: dict[str, process.Tracked] = {}
    try:
        runner.up(settings, built, say=print, components=components)
        for component in components:
            tracked = process.read(settings.run_dir, component.name)
            if tracked is not None:
                started[component.name] = tracked
        yield ScaledStack(settings, layout)
    finally:
        runner.down(settings, say=print, components=components)
        instances.clear(settings.run_dir)
        leftover = [name for name, tracked in started.items() if process.is_running(tracked)]
        assert leftover == [], f"processes still running after stack down: {leftover}"
