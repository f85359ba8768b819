"""Several sample-service instances behind nginx: ``otel-flux stack up --instances N``.

With N of 2 or more, the stack runs N sample-service processes on their own
ports and nginx on the service port in front of them. Every instance gets:

- ``FLUX_TRUSTED_PROXIES=127.0.0.1/32``, the address nginx connects from, so
  it takes the client address from nginx's ``X-Forwarded-For``;
- the same ``FLUX_SECURITY_HMAC_KEY``, drawn once per stack run and kept in the
  run directory with mode 0600, so failed-login counts are shared per account;
- the shared Redis, so rate limits, failed-login counts and bans are global.

The SDK gives each process its own ``service.instance.id``. The layout (count
and ports) is written to the run directory, so ``stack status`` and ``stack
down`` cover the same processes without the option.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_flux.errors import ConfigError, FluxError
from otel_flux.settings import Setting, define
from otel_flux.stack import binaries, health, nginx
from otel_flux.stack import config as cfg
from otel_flux.stack.components import COMPONENTS, Component, by_name
from otel_flux.stack.config import StackConfig

_logger = logging.getLogger(__name__)

MAX_INSTANCES = 16
# nginx connects to the instances from this address, and they trust only it.
PROXY_ADDRESS = "127.0.0.1"
TRUSTED_PROXIES = f"{PROXY_ADDRESS}/32"
# Health probes connect to the instances from their own loopback address. From
# 127.0.0.1 they would share the client identity of every local client behind
# nginx, and a ban of that client (the sample traffic bans it) would fail them.
PROBE_ADDRESS = "127.0.0.254"

_LAYOUT_FILE = "instances.json"
_KEY_FILE = "security-hmac.key"
_PORT_ACCEPTED = "a comma-separated list of TCP port numbers from 1 to 65535"


def _parse_ports(text: str) -> tuple[int, ...]:
    ports = []
    for item in text.split(","):
        word = item.strip()
        if not word.isdigit() or not 1 <= int(word) <= 65535:
            raise ValueError(f"{word!r} is not a port number")
        ports.append(int(word))
    return tuple(ports)


INSTANCE_PORTS: Setting[tuple[int, ...]] = define(
    "FLUX_SERVICE_INSTANCE_PORTS",
    (),
    _parse_ports,
    accepted=_PORT_ACCEPTED,
    doc="Ports of the sample-service instances behind nginx with `otel-flux stack up "
    "--instances N`; the first N are used. Default: FLUX_SERVICE_PORT + 1 to + N.",
    group="stack",
)


@dataclass(frozen=True, slots=True)
class Layout:
    """How many instances run, and on which ports."""

    ports: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.ports)


def plan(config: StackConfig, count: int, environ: Mapping[str, str] | None = None) -> Layout:
    """Choose the instance ports for count instances, raising ConfigError on a clash."""
    if not 2 <= count <= MAX_INSTANCES:
        raise ConfigError(
            "--instances",
            str(count),
            f"an integer from 2 to {MAX_INSTANCES} for instances behind nginx",
            "one instance is the plain stack without nginx",
        )
    configured = INSTANCE_PORTS.read_strict(environ)
    if configured:
        if len(configured) < count:
            raise ConfigError(
                INSTANCE_PORTS.env,
                ",".join(map(str, configured)),
                f"at least {count} ports for --instances {count}",
            )
        ports = configured[:count]
    else:
        base = config.port(cfg.SERVICE_PORT)
        ports = tuple(base + i for i in range(1, count + 1))

    taken = {port: env for env, port in config.ports.items()}
    for index, port in enumerate(ports, start=1):
        if port in taken or ports.index(port) != index - 1:
            other = taken.get(port, f"{INSTANCE_PORTS.env} (twice)")
            raise ConfigError(
                INSTANCE_PORTS.env,
                ",".join(map(str, ports)),
                "ports that no other stack component uses",
                f"{port} is also used by {other}; set {INSTANCE_PORTS.env} to free ports",
            )
    return Layout(ports)


def save_layout(run_dir: Path, layout: Layout) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / _LAYOUT_FILE).write_text(json.dumps({"ports": list(layout.ports)}) + "\n")


def load_layout(run_dir: Path) -> Layout | None:
    """Return the layout the last `stack up --instances` saved, or None."""
    path = run_dir / _LAYOUT_FILE
    try:
        ports = json.loads(path.read_text())["ports"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FluxError(
            f"{path} is unreadable ({exc}); stop the stack's processes by hand and remove it"
        ) from None
    return Layout(tuple(int(port) for port in ports))


def clear(run_dir: Path) -> None:
    """Forget the layout and the HMAC key of the stopped stack."""
    (run_dir / _LAYOUT_FILE).unlink(missing_ok=True)
    (run_dir / _KEY_FILE).unlink(missing_ok=True)


def hmac_key(run_dir: Path) -> str:
    """Return the stack run's FLUX_SECURITY_HMAC_KEY, creating it (mode 0600) if missing."""
    path = run_dir / _KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def select(
    config: StackConfig, requested: int | None, environ: Mapping[str, str] | None = None
) -> tuple[StackConfig, tuple[Component, ...], Layout | None]:
    """Return the config and the components for requested instances.

    requested None means the layout of the running stack, or one instance. One
    instance is the plain stack: the sample service itself on the service port.
    """
    saved = load_layout(config.run_dir)
    if requested is None:
        layout = saved
    elif requested == 1:
        layout = None
    else:
        layout = plan(config, requested, environ)
    if saved is not None and requested is not None and layout != saved:
        raise FluxError(
            f"a stack with {saved.count} instances on ports "
            f"{', '.join(map(str, saved.ports))} was started in {config.run_dir}; "
            "run `otel-flux stack down` before changing --instances or the ports"
        )
    if layout is None:
        return config, COMPONENTS, None
    return scaled(config, layout), components(layout), layout


def instance_setting(index: int, port: int) -> Setting[int]:
    """A port setting of one instance, named after its place in FLUX_SERVICE_INSTANCE_PORTS.

    It is not declared in the settings table: the list variable is.
    """
    return Setting(
        f"{INSTANCE_PORTS.env}[{index}]",
        port,
        int,
        _PORT_ACCEPTED,
        f"Port of sample-service instance {index}.",
        "stack",
    )


def scaled(config: StackConfig, layout: Layout) -> StackConfig:
    """Return config with the instance ports added, so the runner can check and probe them."""
    ports = dict(config.ports)
    for index, port in enumerate(layout.ports, start=1):
        ports[instance_setting(index, port).env] = port
    return dataclasses.replace(config, ports=ports)


def components(layout: Layout) -> tuple[Component, ...]:
    """Return the stack's components with N instances and nginx in place of the service."""
    backends = tuple(c for c in COMPONENTS if c.name != "service")
    instances = tuple(_instance(index, port) for index, port in enumerate(layout.ports, start=1))
    return (*backends, *instances, _nginx(layout))


def _instance(index: int, port: int) -> Component:
    setting = instance_setting(index, port)
    service = by_name("service")

    def command(config: StackConfig, built: dict[str, Path]) -> Sequence[str]:
        words = list(service.command(config, built))
        words[words.index("--port") + 1] = str(config.port(setting))
        return words

    def environ(config: StackConfig) -> dict[str, str]:
        values = service.environ(config)
        values["FLUX_TRUSTED_PROXIES"] = TRUSTED_PROXIES
        values["FLUX_SECURITY_HMAC_KEY"] = hmac_key(config.run_dir)
        return values

    def probe(config: StackConfig) -> bool:
        return probe_health(config.port(setting))

    return Component(f"service-{index}", (setting,), command, probe, environ)


def probe_health(port: int, timeout: float = 2.0) -> bool:
    """Return True when GET /health on a loopback port, sent from PROBE_ADDRESS, returns 2xx."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(PROBE_ADDRESS, 0)
    )
    try:
        connection.request("GET", "/health")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return 200 <= status < 300


def _nginx(layout: Layout) -> Component:
    def command(config: StackConfig, built: dict[str, Path]) -> Sequence[str]:
        prefix = config.run_dir / "nginx"
        conf = write_nginx_config(config, layout)
        return [
            str(nginx_binary()),
            "-p",
            str(prefix),
            "-c",
            str(conf),
            "-e",
            "stderr",
            "-g",
            "daemon off;",
        ]

    def probe(config: StackConfig) -> bool:
        port = config.port(cfg.SERVICE_PORT)
        return health.http_ok(f"http://127.0.0.1:{port}{nginx.HEALTH_PATH}")

    return Component("nginx", (cfg.SERVICE_PORT,), command, probe, _plain_environ)


def _plain_environ(config: StackConfig) -> dict[str, str]:
    return config.child_environ()


def write_nginx_config(config: StackConfig, layout: Layout) -> Path:
    """Render nginx.conf for the local stack into <run dir>/nginx and return its path."""
    prefix = config.run_dir / "nginx"
    temp = prefix / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    text = nginx.render_config(
        nginx.NginxLayout(
            listen=f"127.0.0.1:{config.port(cfg.SERVICE_PORT)}",
            upstreams=[f"127.0.0.1:{port}" for port in layout.ports],
            pid_file=str(prefix / "nginx-master.pid"),
            access_log=str(config.run_dir / "nginx-access.log"),
            error_log="stderr",
            temp_dir=str(temp),
            bind=PROXY_ADDRESS,
        )
    )
    path = prefix / "nginx.conf"
    path.write_text(text)
    return path


def nginx_binary() -> Path:
    """Return nginx from PATH or /usr/sbin, where Debian installs it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        raise binaries.MissingBinaryError(
            "nginx is not installed or not on PATH; install the Debian package nginx"
        )
    return Path(found)
