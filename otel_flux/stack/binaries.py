"""Locate the programs the stack runs, building otelcol-flux and Jaeger when needed."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from otel_flux.errors import FluxError
from otel_flux.stack.config import StackConfig

_logger = logging.getLogger(__name__)

BUILT = ("otelcol-flux", "jaeger")


class MissingBinaryError(FluxError):
    """A program the stack needs is not installed or could not be built."""


def build_script(config: StackConfig) -> Path:
    return config.repo_root / "deploy" / "local" / "build-binaries.sh"


def ensure_built(config: StackConfig, *, build: bool = True) -> dict[str, Path]:
    """Run the build script and return the path of each built binary by name.

    With build=False the script only checks the cache, and a missing binary
    raises MissingBinaryError. The script's progress goes to this process's
    stderr, so the user sees what is reused or built.
    """
    script = build_script(config)
    command = ["bash", str(script)] + ([] if build else ["--check"])
    environ = dict(os.environ, FLUX_CACHE_DIR=str(config.cache_dir))
    result = subprocess.run(  # noqa: S603 (fixed command inside the checkout)
        command, env=environ, stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        action = "found no cached build of" if not build else "failed to build"
        raise MissingBinaryError(
            f"{script} {action} otelcol-flux or Jaeger (exit status {result.returncode}); "
            f"run {script} and read its output"
        )
    return _parse_paths(result.stdout)


def _parse_paths(output: str) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for line in output.splitlines():
        name, sep, value = line.partition("=")
        if sep and name in BUILT:
            paths[name] = Path(value)
    missing = [name for name in BUILT if name not in paths]
    if missing:
        raise MissingBinaryError(f"the build script printed no path for {', '.join(missing)}")
    return paths


def system_binary(name: str, package: str) -> Path:
    """Return the path of an installed program, or raise naming the package to install."""
    found = shutil.which(name)
    if found is None:
        raise MissingBinaryError(
            f"{name} is not installed or not on PATH; install the Debian package {package}"
        )
    return Path(found)


def instrument_command() -> Path:
    """Return opentelemetry-instrument from the environment of this interpreter."""
    candidate = Path(sys.executable).parent / "opentelemetry-instrument"
    if candidate.is_file():
        return candidate
    found = shutil.which("opentelemetry-instrument")
    if found is None:
        raise MissingBinaryError(
            "opentelemetry-instrument is not installed; "
            "run `pip install opentelemetry-instrumentation` in this environment"
        )
    return Path(found)
