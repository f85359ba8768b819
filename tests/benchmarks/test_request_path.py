"""The request-path benchmark runs and prints a figure for each case it is asked for.

The test checks only that the script works, with few requests. Its figures come
from a run by hand, pinned to one core, as the script's docstring shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import redis_binary

SCRIPT = Path(__file__).with_name("bench_request_path.py")
REPO_ROOT = SCRIPT.parents[2]


@pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed")
def test_security_cases_print_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "160", "--only", "security, otel_flux, "],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        check=False,
    )

    assert result.returncode == 0, result.stderr
    rows = {
        line[:44].strip(): line[44:].strip()
        for line in result.stdout.splitlines()[1:]
        if line.strip()
    }
    assert set(rows) == {
        "security, otel_flux, no check spans",
        "security, otel_flux, no decision counts",
        "security, otel_flux, SDK decision counter",
        "security, otel_flux, no security telemetry",
    }
    assert all(float(figure) > 0 for figure in rows.values())
