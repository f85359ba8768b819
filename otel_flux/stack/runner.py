"""Start, stop and inspect the stack's processes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_flux.errors import FluxError
from otel_flux.stack import health, ports, process
from otel_flux.stack.components import COMPONENTS, Component
from otel_flux.stack.config import StackConfig

_logger = logging.getLogger(__name__)

# Lines of a failed component's log shown in the error message.
_LOG_TAIL_LINES = 15


class ComponentStartError(FluxError):
    """A component exited or stayed unhealthy while starting."""


@dataclass(frozen=True, slots=True)
class ComponentState:
    """Pid, port and health of one component, as `stack status` prints them."""

    name: str
    pid: int | None
    port: int
    port_env: str
    healthy: bool


def up(
    config: StackConfig,
    built: dict[str, Path],
    say: Callable[[str], None] = print,
    *,
    components: Sequence[Component] = COMPONENTS,
) -> None:
    """Start every component that is not already running and wait for its health.

    The ports of all components to start are checked first, so a taken port
    fails `up` before anything starts.
    """
    config.run_dir.mkdir(parents=True, exist_ok=True)
    for component in components:
        if process.read(config.run_dir, component.name) is None:
            for setting in component.ports:
                ports.ensure_free(config.port(setting), setting.env)

    for component in components:
        _ensure_running(component, config, built, say)


def _ensure_running(
    component: Component,
    config: StackConfig,
    built: dict[str, Path],
    say: Callable[[str], None],
) -> None:
    tracked = process.read(config.run_dir, component.name)
    if tracked is not None:
        if not health.wait_until(lambda: component.probe(config), config.start_timeout):
            raise ComponentStartError(
                f"{component.name} (pid {tracked.pid}) is running but not healthy after "
                f"{config.start_timeout:.0f} s; see {_log(config, component)} "
                "or run `otel-flux stack down` and start again"
            )
        say(f"{component.name}: reusing pid {tracked.pid} on {component.url(config)}")
        return

    for setting in component.ports:
        ports.ensure_free(config.port(setting), setting.env)

    command = component.command(config, built)
    started = process.start(component.name, command, config.run_dir, component.environ(config))

    def ready() -> bool:
        if not process.is_running(started):
            raise ComponentStartError(
                f"{component.name} exited while starting; last lines of "
                f"{_log(config, component)}:\n{_tail(_log(config, component))}"
            )
        return component.probe(config)

    if not health.wait_until(ready, config.start_timeout):
        raise ComponentStartError(
            f"{component.name} (pid {started.pid}) was not healthy after "
            f"{config.start_timeout:.0f} s (FLUX_STACK_START_TIMEOUT); last lines of "
            f"{_log(config, component)}:\n{_tail(_log(config, component))}"
        )
    say(f"{component.name}: started pid {started.pid} on {component.url(config)}")


def down(
    config: StackConfig,
    say: Callable[[str], None] = print,
    *,
    components: Sequence[Component] = COMPONENTS,
) -> None:
    """Stop every component recorded in the run directory, last started first."""
    for component in reversed(components):
        if process.stop(config.run_dir, component.name):
            say(f"{component.name}: stopped")
        else:
            say(f"{component.name}: not running")


def status(
    config: StackConfig, *, components: Sequence[Component] = COMPONENTS
) -> list[ComponentState]:
    """Return the pid, port and health of every component."""
    states = []
    for component in components:
        tracked = process.read(config.run_dir, component.name)
        states.append(
            ComponentState(
                name=component.name,
                pid=None if tracked is None else tracked.pid,
                port=config.port(component.main_port),
                port_env=component.main_port.env,
                healthy=tracked is not None and component.probe(config),
            )
        )
    return states


def _log(config: StackConfig, component: Component) -> Path:
    return config.run_dir / f"{component.name}.log"


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(lines[-_LOG_TAIL_LINES:])
