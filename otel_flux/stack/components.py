"""The processes of the local stack: how each one starts and how its health is probed.

They start in the order of :data:`COMPONENTS`: Redis, then Jaeger (the
Collector exports traces to it), Prometheus, the Collector, and last the sample
service, which sends to the Collector.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_flux.errors import FluxError
from otel_flux.settings import Setting
from otel_flux.stack import binaries, health
from otel_flux.stack import config as cfg
from otel_flux.stack.config import StackConfig

# Service name the sample service reports; Jaeger and Prometheus are queried for it.
SERVICE_NAME = "flux-auth"


@dataclass(frozen=True, slots=True)
class Component:
    """One process of the stack."""

    name: str
    # Every port it listens on; `stack status` shows the first.
    ports: tuple[Setting[int], ...]
    command: Callable[[StackConfig, dict[str, Path]], Sequence[str]]
    probe: Callable[[StackConfig], bool]
    environ: Callable[[StackConfig], dict[str, str]]
    # URL scheme of the main port, for messages: http, grpc or redis.
    scheme: str = "http"

    @property
    def main_port(self) -> Setting[int]:
        return self.ports[0]

    def url(self, config: StackConfig) -> str:
        return f"{self.scheme}://127.0.0.1:{config.port(self.main_port)}"


def _default_environ(config: StackConfig) -> dict[str, str]:
    return config.child_environ()


# Redis


def _redis_command(config: StackConfig, built: dict[str, Path]) -> list[str]:
    data_dir = config.run_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = config.run_dir / "redis.conf"
    conf.write_text(
        f"bind 127.0.0.1\n"
        f"port {config.port(cfg.REDIS_PORT)}\n"
        f"dir {data_dir}\n"
        # Local test data only: no snapshots, no append-only file.
        'save ""\n'
        "appendonly no\n"
        "daemonize no\n"
        "protected-mode yes\n"
        "loglevel notice\n"
    )
    return [str(binaries.system_binary("redis-server", "redis-server")), str(conf)]


# Jaeger


def _jaeger_command(config: StackConfig, built: dict[str, Path]) -> list[str]:
    jaeger_config = config.repo_root / "collector-config" / "jaeger" / "config.yaml"
    return [str(built["jaeger"]), "--config", str(jaeger_config)]


def _jaeger_probe(config: StackConfig) -> bool:
    port = config.port(cfg.JAEGER_HEALTH_PORT)
    return health.http_ok(f"http://127.0.0.1:{port}/status")


# Prometheus


def _prometheus_command(config: StackConfig, built: dict[str, Path]) -> list[str]:
    rendered = render_prometheus_config(config)
    data_dir = config.run_dir / "prometheus-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        str(binaries.system_binary("prometheus", "prometheus")),
        f"--config.file={rendered}",
        f"--web.listen-address=127.0.0.1:{config.port(cfg.PROMETHEUS_PORT)}",
        f"--storage.tsdb.path={data_dir}",
        "--storage.tsdb.retention.time=1d",
    ]


# Default scrape targets in collector-config/prometheus.yml, by port setting.
_PROMETHEUS_TARGETS = (
    cfg.COLLECTOR_EXPORTER_PORT,
    cfg.COLLECTOR_METRICS_PORT,
    cfg.JAEGER_METRICS_PORT,
    cfg.PROMETHEUS_PORT,
)


def render_prometheus_config(config: StackConfig) -> Path:
    """Write the Prometheus config with the configured ports into the run directory.

    Prometheus does not expand environment variables in scrape targets, so the
    stack rewrites the default addresses of collector-config/prometheus.yml.
    """
    source_dir = config.repo_root / "collector-config"
    text = (source_dir / "prometheus.yml").read_text()
    for setting in _PROMETHEUS_TARGETS:
        default = f'"127.0.0.1:{setting.default}"'
        if text.count(default) != 1:
            raise FluxError(
                f"{source_dir / 'prometheus.yml'} must contain the target {default} exactly "
                f"once, so that {setting.env} can move it; restore that scrape target"
            )
        text = text.replace(default, f'"127.0.0.1:{config.port(setting)}"')
    text = _replace_once(text, "  - rules/*.yml", f"  - {config.rules_dir}/*.yml", source_dir)
    interval = f"{config.prometheus_interval_s}s"
    for key in ("scrape_interval", "evaluation_interval"):
        text = _replace_once(text, f"  {key}: 5s", f"  {key}: {interval}", source_dir)

    rendered = config.run_dir / "prometheus.yml"
    rendered.write_text(text)
    return rendered


def _replace_once(text: str, default: str, value: str, source_dir: Path) -> str:
    if text.count(default) != 1:
        raise FluxError(
            f"{source_dir / 'prometheus.yml'} must contain the line {default.strip()!r} exactly "
            "once, so that the stack settings can change it; restore that line"
        )
    return text.replace(default, value)


def _prometheus_probe(config: StackConfig) -> bool:
    return health.http_ok(f"http://127.0.0.1:{config.port(cfg.PROMETHEUS_PORT)}/-/ready")


# Collector


def _collector_command(config: StackConfig, built: dict[str, Path]) -> list[str]:
    collector_config = config.repo_root / "collector-config" / "otelcol-flux.yaml"
    return [str(built["otelcol-flux"]), "--config", str(collector_config)]


def _collector_probe(config: StackConfig) -> bool:
    return health.http_ok(f"http://127.0.0.1:{config.port(cfg.COLLECTOR_HEALTH_PORT)}/")


# Sample service


def _service_command(config: StackConfig, built: dict[str, Path]) -> list[str]:
    instrument = binaries.instrument_command()
    return [
        str(instrument),
        str(instrument.parent / "uvicorn"),
        config.app,
        "--host",
        "127.0.0.1",
        "--port",
        str(config.port(cfg.SERVICE_PORT)),
    ]


def _service_environ(config: StackConfig) -> dict[str, str]:
    environ = config.child_environ()
    collector = f"http://127.0.0.1:{config.port(cfg.COLLECTOR_GRPC_PORT)}"
    # The stack's Collector and Redis win over values inherited from the shell,
    # because the point of `stack up` is to show data flowing through them.
    environ["OTEL_SERVICE_NAME"] = SERVICE_NAME
    environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector
    environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
    environ["FLUX_REDIS_URL"] = f"redis://127.0.0.1:{config.port(cfg.REDIS_PORT)}/0"
    # Short export interval so the sample traffic reaches Prometheus quickly.
    environ.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "5000")
    environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "1000")
    # Seconds in this SDK (1.45). While the Collector is away each export gives
    # up after about this long instead of retrying for 10 s, so the first export
    # after the Collector returns comes at most one interval plus this later.
    environ.setdefault("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    # Import otel_flux from this checkout even if another copy is installed.
    path = environ.get("PYTHONPATH")
    root = str(config.repo_root)
    environ["PYTHONPATH"] = root if not path else os.pathsep.join([root, path])
    return environ


def _service_probe(config: StackConfig) -> bool:
    return health.http_ok(f"http://127.0.0.1:{config.port(cfg.SERVICE_PORT)}/health")


COMPONENTS: tuple[Component, ...] = (
    Component(
        "redis",
        (cfg.REDIS_PORT,),
        _redis_command,
        lambda config: health.redis_ok(config.port(cfg.REDIS_PORT)),
        _default_environ,
        scheme="redis",
    ),
    Component(
        "jaeger",
        (
            cfg.JAEGER_QUERY_PORT,
            cfg.JAEGER_QUERY_GRPC_PORT,
            cfg.JAEGER_OTLP_GRPC_PORT,
            cfg.JAEGER_OTLP_HTTP_PORT,
            cfg.JAEGER_HEALTH_PORT,
            cfg.JAEGER_METRICS_PORT,
        ),
        _jaeger_command,
        _jaeger_probe,
        _default_environ,
    ),
    Component(
        "prometheus",
        (cfg.PROMETHEUS_PORT,),
        _prometheus_command,
        _prometheus_probe,
        _default_environ,
    ),
    Component(
        "collector",
        (
            cfg.COLLECTOR_GRPC_PORT,
            cfg.COLLECTOR_HTTP_PORT,
            cfg.COLLECTOR_HEALTH_PORT,
            cfg.COLLECTOR_EXPORTER_PORT,
            cfg.COLLECTOR_METRICS_PORT,
        ),
        _collector_command,
        _collector_probe,
        _default_environ,
        scheme="grpc",
    ),
    Component(
        "service",
        (cfg.SERVICE_PORT,),
        _service_command,
        _service_probe,
        _service_environ,
    ),
)


def by_name(name: str) -> Component:
    for component in COMPONENTS:
        if component.name == name:
            return component
    raise KeyError(name)
