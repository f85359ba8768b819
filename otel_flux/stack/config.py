"""Settings of the local stack: ports, directories and time limits.

Every port is on loopback and can be moved with its ``FLUX_*_PORT`` variable.
The Collector and Jaeger configs read the same variables, so ``otel-flux stack
up`` passes the resolved values to them in the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from otel_flux.errors import ConfigError, FluxError
from otel_flux.settings import Setting, define, float_parser, int_parser, parse_bool, parse_str

_GROUP = "stack"
_PORT_ACCEPTED = "a TCP port number from 1 to 65535"
_parse_port = int_parser(minimum=1, maximum=65535)


def _port(env: str, default: int, doc: str) -> Setting[int]:
    return define(env, default, _parse_port, accepted=_PORT_ACCEPTED, doc=doc, group=_GROUP)


SERVICE_PORT = _port("FLUX_SERVICE_PORT", 8000, "Port of the sample service.")
COLLECTOR_GRPC_PORT = _port("FLUX_COLLECTOR_GRPC_PORT", 4317, "Collector OTLP/gRPC port.")
COLLECTOR_HTTP_PORT = _port("FLUX_COLLECTOR_HTTP_PORT", 4318, "Collector OTLP/HTTP port.")
COLLECTOR_HEALTH_PORT = _port(
    "FLUX_COLLECTOR_HEALTH_PORT", 13133, "Collector health_check extension port."
)
COLLECTOR_EXPORTER_PORT = _port(
    "FLUX_COLLECTOR_EXPORTER_PORT",
    8889,
    "Collector prometheus exporter port: service metrics and span metrics.",
)
COLLECTOR_METRICS_PORT = _port(
    "FLUX_COLLECTOR_METRICS_PORT", 8888, "Port of the Collector's own telemetry metrics."
)
JAEGER_QUERY_PORT = _port("FLUX_JAEGER_QUERY_PORT", 16686, "Jaeger query HTTP API port.")
JAEGER_QUERY_GRPC_PORT = _port("FLUX_JAEGER_QUERY_GRPC_PORT", 16685, "Jaeger query gRPC API port.")
JAEGER_OTLP_GRPC_PORT = _port(
    "FLUX_JAEGER_OTLP_GRPC_PORT",
    4327,
    "Jaeger's own OTLP/gRPC port, which the Collector exports traces to.",
)
JAEGER_OTLP_HTTP_PORT = _port("FLUX_JAEGER_OTLP_HTTP_PORT", 4328, "Jaeger's own OTLP/HTTP port.")
JAEGER_HEALTH_PORT = _port("FLUX_JAEGER_HEALTH_PORT", 14133, "Jaeger health check port.")
JAEGER_METRICS_PORT = _port("FLUX_JAEGER_METRICS_PORT", 14269, "Port of Jaeger's own metrics.")
PROMETHEUS_PORT = _port("FLUX_PROMETHEUS_PORT", 9090, "Prometheus web and API port.")
REDIS_PORT = _port("FLUX_REDIS_PORT", 6379, "Port of the Redis server the stack starts.")

RUN_DIR = define(
    "FLUX_RUN_DIR",
    None,
    parse_str,
    accepted="a directory path",
    doc="Directory for the stack's logs, pid files and data; default <cache dir>/run.",
    group=_GROUP,
)
CACHE_DIR = define(
    "FLUX_CACHE_DIR",
    None,
    parse_str,
    accepted="a directory path",
    doc="Cache for built binaries and Go modules; default ~/.cache/otel-flux.",
    group=_GROUP,
)
SERVICE_APP = define(
    "FLUX_STACK_APP",
    "otel_flux.demo:app",
    parse_str,
    accepted="an ASGI app as module:attribute",
    doc="ASGI app that `otel-flux stack up` serves as the sample service.",
    group=_GROUP,
)
RULES_DIR = define(
    "FLUX_STACK_RULES_DIR",
    None,
    parse_str,
    accepted="a directory path",
    doc=(
        "Directory whose *.yml rule files Prometheus loads, in place of "
        "collector-config/rules; for example rules rendered with a short window."
    ),
    group=_GROUP,
)
PROMETHEUS_INTERVAL = define(
    "FLUX_STACK_PROMETHEUS_INTERVAL_S",
    5,
    int_parser(minimum=1, maximum=300),
    accepted="a whole number of seconds from 1 to 300",
    doc="Scrape and rule evaluation interval of the stack's Prometheus.",
    group=_GROUP,
)
START_TIMEOUT = define(
    "FLUX_STACK_START_TIMEOUT",
    60.0,
    float_parser(minimum=1.0, maximum=3600.0),
    accepted="a number of seconds from 1 to 3600",
    doc="Maximum wait for each component to report healthy.",
    group=_GROUP,
)
DATA_TIMEOUT = define(
    "FLUX_STACK_DATA_TIMEOUT",
    60.0,
    float_parser(minimum=1.0, maximum=3600.0),
    accepted="a number of seconds from 1 to 3600",
    doc="Maximum wait for the sample traffic to appear in Jaeger and Prometheus.",
    group=_GROUP,
)
REQUIRE_STACK = define(
    "FLUX_REQUIRE_STACK",
    False,
    parse_bool,
    accepted="true or false",
    doc="Fail the stack tests instead of skipping them when a binary is missing.",
    group=_GROUP,
)

# Ports in a fixed order, for status output and conflict checks.
PORT_SETTINGS: tuple[Setting[int], ...] = (
    SERVICE_PORT,
    COLLECTOR_GRPC_PORT,
    COLLECTOR_HTTP_PORT,
    COLLECTOR_HEALTH_PORT,
    COLLECTOR_EXPORTER_PORT,
    COLLECTOR_METRICS_PORT,
    JAEGER_QUERY_PORT,
    JAEGER_QUERY_GRPC_PORT,
    JAEGER_OTLP_GRPC_PORT,
    JAEGER_OTLP_HTTP_PORT,
    JAEGER_HEALTH_PORT,
    JAEGER_METRICS_PORT,
    PROMETHEUS_PORT,
    REDIS_PORT,
)

# The checkout that contains collector-config/ and deploy/, two levels above
# this package.
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Resolved stack settings: ports by variable name, directories and time limits."""

    ports: Mapping[str, int]
    run_dir: Path
    cache_dir: Path
    repo_root: Path
    app: str
    rules_dir: Path
    prometheus_interval_s: int
    start_timeout: float
    data_timeout: float

    def port(self, setting: Setting[int]) -> int:
        return self.ports[setting.env]

    def child_environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Return an environment with every port variable set to its resolved value."""
        environ = dict(os.environ if base is None else base)
        environ.update({env: str(port) for env, port in self.ports.items()})
        return environ


def load(environ: Mapping[str, str] | None = None) -> StackConfig:
    """Read the stack settings, raising ConfigError on an invalid value or a port clash."""
    ports = {setting.env: setting.read_strict(environ) for setting in PORT_SETTINGS}
    _check_distinct(ports)

    cache_dir = Path(CACHE_DIR.read_strict(environ) or Path.home() / ".cache" / "otel-flux")
    run_dir = Path(RUN_DIR.read_strict(environ) or cache_dir / "run")
    rules_dir = Path(RULES_DIR.read_strict(environ) or _REPO_ROOT / "collector-config" / "rules")
    config = StackConfig(
        ports=ports,
        run_dir=run_dir.expanduser().absolute(),
        cache_dir=cache_dir.expanduser().absolute(),
        repo_root=_REPO_ROOT,
        app=SERVICE_APP.read_strict(environ),
        rules_dir=rules_dir.expanduser().absolute(),
        prometheus_interval_s=PROMETHEUS_INTERVAL.read_strict(environ),
        start_timeout=START_TIMEOUT.read_strict(environ),
        data_timeout=DATA_TIMEOUT.read_strict(environ),
    )
    _check_repo(config.repo_root)
    _check_rules_dir(config.rules_dir)
    return config


def _check_distinct(ports: Mapping[str, int]) -> None:
    seen: dict[int, str] = {}
    for env, port in ports.items():
        if port in seen:
            raise ConfigError(
                env,
                str(port),
                "a port that no other stack component uses",
                f"{seen[port]} is also {port}; move one of them",
            )
        seen[port] = env


def _check_rules_dir(rules_dir: Path) -> None:
    # Prometheus accepts a glob that matches nothing, so a mistyped directory
    # would start a stack without alerts and without any message.
    if not rules_dir.is_dir():
        raise ConfigError(
            RULES_DIR.env,
            str(rules_dir),
            "an existing directory of Prometheus rule files",
            "create it, render rules into it with `otel-flux alerts render -o`, or unset it",
        )


def _check_repo(root: Path) -> None:
    config = root / "collector-config" / "otelcol-flux.yaml"
    if not config.is_file():
        raise FluxError(
            f"the stack needs the otel_flux checkout, but {config} is missing; "
            "run otel-flux from a git checkout installed with `pip install -e .`"
        )
