"""``otel-flux stack up|down|status``: run the local pipeline as native processes."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otel_flux.errors import ConfigError, FluxError
from otel_flux.stack import binaries, health, instances, observe, ports, runner, traffic
from otel_flux.stack import config as cfg
from otel_flux.stack.components import SERVICE_NAME
from otel_flux.stack.config import StackConfig

_logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``stack`` command group to the otel-flux argument parser."""
    stack = subparsers.add_parser(
        "stack",
        help="run Redis, the Collector, Jaeger, Prometheus and the sample service locally",
        description="Run the local pipeline as native processes on loopback. Ports, the "
        "run directory and time limits come from FLUX_* variables; "
        "`otel-flux check-config` lists them.",
    )
    actions = stack.add_subparsers(dest="stack_command", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="build or reuse the binaries and start the stack")
    up.add_argument(
        "--no-traffic",
        action="store_true",
        help="start the stack but send no sample requests and wait for no data",
    )
    up.add_argument(
        "--instances",
        type=_instance_count,
        default=None,
        metavar="N",
        help="run N sample-service instances behind nginx on the service port "
        f"(1 to {instances.MAX_INSTANCES}; default: as the running stack, else 1)",
    )
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop every process the stack started")
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="show each component's pid, port and health")
    status.set_defaults(func=_status)


def _instance_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= instances.MAX_INSTANCES:
        raise argparse.ArgumentTypeError(
            f"invalid instance count {text!r}: expected an integer from 1 to "
            f"{instances.MAX_INSTANCES}"
        )
    return int(text)


def _up(args: argparse.Namespace) -> int:
    def run(config: StackConfig) -> int:
        print(f"run directory (logs, pid files, data): {config.run_dir}")
        config, components, layout = instances.select(config, args.instances)
        built = binaries.ensure_built(config)
        if layout is not None:
            # Saved first, so `stack down` finds the instances even if start-up fails.
            instances.save_layout(config.run_dir, layout)
            print(f"{layout.count} sample-service instances behind nginx")
        try:
            runner.up(config, built, components=components)
        except ports.PortInUseError:
            # The ports are checked before anything starts, so nothing is running.
            raise
        except FluxError:
            print(
                "components that started before the failure keep running; "
                "`otel-flux stack status` lists them and `otel-flux stack down` stops them",
                file=sys.stderr,
            )
            raise
        if not args.no_traffic:
            _send_traffic_and_report(config)
        _print_addresses(config)
        return 0

    return _with_config(run)


def _down(args: argparse.Namespace) -> int:
    def run(config: StackConfig) -> int:
        config, components, _ = instances.select(config, None)
        runner.down(config, components=components)
        instances.clear(config.run_dir)
        return 0

    return _with_config(run)


def _status(args: argparse.Namespace) -> int:
    def run(config: StackConfig) -> int:
        config, components, _ = instances.select(config, None)
        states = runner.status(config, components=components)
        rows: list[tuple[object, ...]] = [
            (
                state.name,
                "-" if state.pid is None else state.pid,
                f"{state.port} ({state.port_env})",
                _health_word(state),
            )
            for state in states
        ]
        print(observe.format_table(("COMPONENT", "PID", "PORT", "HEALTH"), rows))
        print(f"run directory: {config.run_dir}")
        return 0 if all(state.healthy for state in states) else 1

    return _with_config(run)


def _health_word(state: runner.ComponentState) -> str:
    if state.pid is None:
        return "stopped"
    return "healthy" if state.healthy else "unhealthy"


def _with_config(action: Callable[[StackConfig], int]) -> int:
    """Load the settings and run action, turning product errors into one message."""
    try:
        config = cfg.load()
        result: int = action(config)
    except ConfigError as exc:
        print(f"otel-flux stack: {exc}", file=sys.stderr)
        return 2
    except FluxError as exc:
        print(f"otel-flux stack: {exc}", file=sys.stderr)
        return 1
    return result


def _send_traffic_and_report(config: StackConfig) -> None:
    service_url = f"http://127.0.0.1:{config.port(cfg.SERVICE_PORT)}"
    jaeger_url = f"http://127.0.0.1:{config.port(cfg.JAEGER_QUERY_PORT)}"
    prometheus_url = f"http://127.0.0.1:{config.port(cfg.PROMETHEUS_PORT)}"

    requests = traffic.burst_requests()
    statuses = traffic.send_burst(
        service_url, requests, source_address=traffic.new_source_address()
    )
    summary = ", ".join(
        f"{count} x {status or 'no response'}" for status, count in sorted(statuses.items())
    )
    print(f"sent {len(requests)} requests to {service_url}: {summary}")

    traces: dict[str, int] = {}
    routes: list[observe.RouteSeries] = []

    def arrived() -> bool:
        nonlocal traces, routes
        traces = observe.jaeger_traces_per_operation(jaeger_url, SERVICE_NAME)
        routes = observe.request_series_per_route(prometheus_url, SERVICE_NAME)
        return bool(traces) and bool(routes)

    print(f"waiting up to {config.data_timeout:.0f} s for the data in Jaeger and Prometheus")
    if not health.wait_until(arrived, config.data_timeout, interval=2.0):
        print(
            "not all data arrived in time (FLUX_STACK_DATA_TIMEOUT); see the collector and "
            f"service logs in {config.run_dir}",
            file=sys.stderr,
        )

    print()
    print(f"Jaeger: traces per operation of {SERVICE_NAME}")
    print(
        observe.format_table(("OPERATION", "TRACES"), sorted(traces.items()))
        if traces
        else "  (none yet)"
    )
    print()
    print(f"Prometheus: {observe.REQUEST_DURATION_COUNT} per route of job {SERVICE_NAME}")
    route_rows: list[tuple[object, ...]] = [
        (row.route, row.series, f"{row.requests:.0f}") for row in routes
    ]
    print(
        observe.format_table(("HTTP_ROUTE", "SERIES", "REQUESTS"), route_rows)
        if routes
        else "  (none yet)"
    )


def _print_addresses(config: StackConfig) -> None:
    print()
    print(f"Jaeger API:  http://127.0.0.1:{config.port(cfg.JAEGER_QUERY_PORT)}/api/services")
    print(f"Prometheus:  http://127.0.0.1:{config.port(cfg.PROMETHEUS_PORT)}")
    print(f"Service:     http://127.0.0.1:{config.port(cfg.SERVICE_PORT)}")
    print(f"Stop with:   {_command_path()} stack down")


def _command_path() -> str:
    """Return how to run otel-flux again: the plain name only when it is on PATH."""
    installed = Path(sys.executable).parent / "otel-flux"
    on_path = shutil.which("otel-flux")
    if on_path is not None and Path(on_path).resolve() == installed.resolve():
        return "otel-flux"
    if installed.exists():
        return str(installed)
    return "otel-flux"
