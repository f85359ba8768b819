"""The `otel-flux stack` commands run as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _otel_flux(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_flux.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **environ),
        timeout=60,
        check=False,
    )


def test_status_of_empty_run_dir(tmp_path: Path) -> None:
    result = _otel_flux("stack", "status", FLUX_RUN_DIR=str(tmp_path))

    assert result.returncode == 1
    assert result.stdout.count("stopped") == 5
    assert str(tmp_path) in result.stdout


def test_invalid_port_exits_2_naming_variable(tmp_path: Path) -> None:
    result = _otel_flux("stack", "status", FLUX_RUN_DIR=str(tmp_path), FLUX_REDIS_PORT="redis")

    assert result.returncode == 2
    assert "FLUX_REDIS_PORT" in result.stderr
    assert "'redis'" in result.stderr


def test_down_with_nothing_running(tmp_path: Path) -> None:
    result = _otel_flux("stack", "down", FLUX_RUN_DIR=str(tmp_path))

    assert result.returncode == 0
    assert result.stdout.count("not running") == 5
