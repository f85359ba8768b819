"""Processes of the benchmark: the pipeline, the three service variants, wrk.

The service runs pinned to CPU 0. The pipeline (Redis, Jaeger, the Collector),
wrk and the harness itself run on CPU 1, so the service has a core of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from otel_flux.stack import binaries, health, process
from otel_flux.stack import config as stack_config
from otel_flux.stack.components import by_name
from otel_flux.stack.config import StackConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_CPU = 0
LOAD_CPU = 1
APP = "otel_flux.demo:app"
# The upstream distribution of the S run. Its Starlette instrumentation was
# published up to 0.66b1, so the whole upstream set is pinned to that release.
UPSTREAM_PACKAGES = (
    "opentelemetry-distro[otlp]==0.66b1",
    "opentelemetry-instrumentation-asgi==0.66b1",
    "opentelemetry-instrumentation-starlette==0.66b1",
    "opentelemetry-instrumentation-redis==0.66b1",
    "starlette==1.10.0",
    "uvicorn==0.54.0",
    "redis==8.1.0",
    "uvloop>=0.19",
    "httptools>=0.6",
    "psutil>=5.9",
)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Pipeline components the services export to; Prometheus is left out because
# nothing here reads it.
PIPELINE = ("redis", "jaeger", "collector")


class BenchError(RuntimeError):
    """A benchmark process failed to start or a tool is missing."""


def default_bench_venv() -> Path:
    return Path.home() / ".cache" / "otel-flux" / "bench-venv"


def ensure_bench_venv(venv: Path) -> Path:
    """Create the upstream distribution's virtual environment once; return its bin folder."""
    marker = venv / "otel-flux-bench.txt"
    wanted = "\n".join(UPSTREAM_PACKAGES) + "\n"
    if marker.is_file() and marker.read_text() == wanted:
        return venv / "bin"
    print(f"creating the upstream distribution's environment in {venv}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *UPSTREAM_PACKAGES], check=True)
    marker.write_text(wanted)
    return venv / "bin"


def require_tools() -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed; install the Debian package that has it")
    if (os.cpu_count() or 1) < 2:
        raise BenchError("the benchmark needs 2 CPUs: one for the service, one for the load")


def pin(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command]


def start_pipeline(config: StackConfig, built: Mapping[str, Path]) -> None:
    """Start Redis, Jaeger and the Collector on the load CPU and wait for their health."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    for name in PIPELINE:
        component = by_name(name)
        command = pin(LOAD_CPU, list(component.command(config, dict(built))))
        process.start(name, command, config.run_dir, component.environ(config))
        if not health.wait_until(lambda c=component: c.probe(config), config.start_timeout):
            raise BenchError(f"{name} was not healthy; see {config.run_dir / (name + '.log')}")


def stop_pipeline(config: StackConfig) -> None:
    for name in reversed(PIPELINE):
        process.stop(config.run_dir, name)


def pipeline_config(run_dir: Path, ports: Mapping[str, int]) -> StackConfig:
    environ = {env: str(port) for env, port in ports.items()}
    environ["FLUX_RUN_DIR"] = str(run_dir)
    return stack_config.load(environ)


def built_binaries(config: StackConfig) -> dict[str, Path]:
    return binaries.ensure_built(config, build=False)


@dataclass
class Service:
    """One running variant of the sample service."""

    variant: str
    process: subprocess.Popen[bytes]
    port: int
    startup_s: float

    @property
    def pid(self) -> int:
        return self.process.pid


def service_command(variant: str, port: int, bench_bin: Path) -> list[str]:
    """Return the command of variant U (no telemetry), S (upstream) or F (otel_flux)."""
    server = [
        APP,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--loop", "uvloop",
        "--http", "httptools",
        "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    here = Path(sys.executable).parent
    if variant == "U":
        return [str(here / "python"), "-m", "uvicorn", *server]
    if variant == "S":
        return [str(bench_bin / "opentelemetry-instrument"), str(bench_bin / "uvicorn"), *server]
    if variant == "F":
        return [str(here / "opentelemetry-instrument"), str(here / "uvicorn"), *server]
    raise ValueError(f"unknown variant {variant!r}: expected U, S or F")


def package_only_path() -> Path:
    """Return a directory that contains the otel_flux package and nothing else.

    S imports the sample service from it. The repository root would not do: an
    editable install leaves otel_flux.egg-info there, whose entry points make
    the upstream ``opentelemetry-instrument`` load otel_flux's configurator and
    instrumentors, so S would measure otel_flux instead of the upstream
    distribution.
    """
    directory = Path(tempfile.gettempdir()) / f"flux-bench-package-{os.getuid()}"
    link = directory / "otel_flux"
    if not link.exists():
        directory.mkdir(exist_ok=True)
        link.symlink_to(REPO_ROOT / "otel_flux", target_is_directory=True)
    return directory


def service_environ(variant: str, config: StackConfig, security: bool) -> dict[str, str]:
    """Return a clean environment: no inherited OTEL_* or FLUX_* value changes a run."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "FLUX_", "PYTHON"))
    }
    grpc_port = config.port(stack_config.COLLECTOR_GRPC_PORT)
    environ.update(
        {
            "PYTHONPATH": str(package_only_path() if variant == "S" else REPO_ROOT),
            "FLUX_REDIS_URL": f"redis://127.0.0.1:{config.port(stack_config.REDIS_PORT)}/0",
            "FLUX_DEMO_SECURITY": "true" if security else "false",
            "OTEL_SERVICE_NAME": f"flux-bench-{variant}",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{grpc_port}",
        }
    )
    if security:
        # Every request comes from 127.0.0.1; a limit no run reaches keeps the
        # checks running without rejecting the load.
        environ["FLUX_RATE_LIMIT_LIMIT"] = "1000000000"
    return environ


def start_service(
    variant: str,
    port: int,
    config: StackConfig,
    bench_bin: Path,
    security: bool,
    log: Path,
    extra_environ: Mapping[str, str] | None = None,
) -> Service:
    """Start a variant pinned to the service CPU; time it until /health returns 200."""
    command = pin(SERVICE_CPU, service_command(variant, port, bench_bin))
    environ = service_environ(variant, config, security)
    environ.update(extra_environ or {})
    started = time.perf_counter()
    # uvicorn adds its working directory to sys.path, so S starts elsewhere.
    cwd = package_only_path() if variant == "S" else REPO_ROOT
    with log.open("ab") as out:
        child = subprocess.Popen(
            command, env=environ, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/health"
    while time.perf_counter() - started < 60:
        if child.poll() is not None:
            raise BenchError(f"variant {variant} exited while starting; see {log}")
        if _answers(url):
            return Service(variant, child, port, time.perf_counter() - started)
        time.sleep(0.01)
    stop_service(child)
    raise BenchError(f"variant {variant} did not respond at {url} within 60 s; see {log}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def stop_service(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """Return user plus system CPU time of every thread of ``pid``, in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak resident memory) of ``pid`` in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    requests_per_s: float
    non_2xx: int
    socket_errors: int


_REQUESTS = re.compile(r"(\d+) requests in")
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def run_wrk(url: str, duration_s: float, connections: int) -> WrkResult:
    """Run wrk with one thread on the load CPU and parse its totals."""
    command = pin(
        LOAD_CPU, ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", url]
    )
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests, rate = _REQUESTS.search(output), _RATE.search(output)
    if requests is None or rate is None:
        raise BenchError(f"could not parse the wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests=int(requests.group(1)),
        requests_per_s=float(rate.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    )
