"""`otel-flux stack up` with the sample service, its traffic and its summary."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_flux.stack import config, runner
from tests.support.stack import require_binaries, stack_environ

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(
    importlib.util.find_spec("otel_flux.demo.app") is None,
    reason="the sample service otel_flux.demo.app is not in this checkout",
)
def test_stack_up_prints_traces_and_routes(tmp_path: Path) -> None:
    require_binaries()
    environ = stack_environ(tmp_path / "run")
    del environ["FLUX_STACK_APP"]
    settings = config.load(environ)

    try:
        result = subprocess.run(
            [sys.executable, "-m", "otel_flux.cli", "stack", "up"],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT), **environ),
            timeout=300,
            check=False,
        )
    finally:
        runner.down(settings, say=lambda line: None)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "POST /api/auth/login" in result.stdout
    assert "GET /api/files/{file_id}" in result.stdout
    assert "/api/files/{file_id}" in result.stdout.split("Prometheus:")[1]
    assert f"http://127.0.0.1:{environ['FLUX_JAEGER_QUERY_PORT']}" in result.stdout
