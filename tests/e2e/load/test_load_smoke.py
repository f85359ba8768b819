"""Smoke runs of the load scenarios and of the benchmark harness.

The scenarios run scaled down for a few seconds each against the sample
service of a whole local stack. The checks judge the reports, not the speed:
each run must write Locust's CSV and HTML reports and a summary with every
threshold evaluated, and the security scenarios, whose outcome does not depend
on speed, must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_flux.stack import config, runner
from tests.support.stack import require_binaries, stack_environ

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
# The service settings the scenarios need: X-Forwarded-For trusted from the
# load generator, cheap password hashes, and a rate limit that bots pass in
# a second or two.
SERVICE_SETTINGS = {
    "FLUX_TRUSTED_PROXIES": "127.0.0.1/32",
    "FLUX_DEMO_SCRYPT_COST": "10",
    "FLUX_RATE_LIMIT_LIMIT": "20",
    "FLUX_RATE_LIMIT_WINDOW_S": "5",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of a running stack whose service runs with SERVICE_SETTINGS."""
    built = require_binaries()
    environ = stack_environ(tmp_path_factory.mktemp("load-stack"))
    del environ["FLUX_STACK_APP"]
    settings = config.load(environ)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in SERVICE_SETTINGS.items():
                patch.setenv(name, value)
            runner.up(settings, built, say=print)
        yield environ
    finally:
        runner.down(settings, say=print)


def run_scenario(
    environ: dict[str, str], name: str, results: Path, scale: float, duration: float
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    url = f"http://127.0.0.1:{environ['FLUX_SERVICE_PORT']}"
    redis_url = f"redis://127.0.0.1:{environ['FLUX_REDIS_PORT']}/0"
    command = [
        sys.executable, "-m", "otel_flux.cli", "load", name,
        "--url", url, "--redis-url", redis_url, "--results", str(results),
        "--scale", str(scale), "--duration", str(duration),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
        check=False,
    )
    folders = sorted(results.glob(f"{name}-*"))
    assert len(folders) == 1, result.stdout + result.stderr
    summary = json.loads((folders[0] / "summary.json").read_text())
    return result, summary, folders[0]


@pytest.mark.parametrize(
    ("name", "scale", "duration", "thresholds"),
    [
        ("normal", 0.05, 5, {"p95 < 100 ms", "p99 < 200 ms", "failures < 0.1 %"}),
        ("peak", 0.01, 5, {"p95 < 200 ms", "p99 < 500 ms", "failures < 1 %"}),
    ],
)
def test_load_scenario_reports(
    service: dict[str, str],
    tmp_path: Path,
    name: str,
    scale: float,
    duration: float,
    thresholds: set[str],
) -> None:
    result, summary, folder = run_scenario(service, name, tmp_path, scale, duration)
    evaluated = {check["name"] for check in summary["checks"]}

    assert result.returncode in (0, 1), result.stderr
    assert thresholds <= evaluated
    assert summary["stats"]["requests"] > 0
    for report in ("locust_stats.csv", "locust.html", "summary.txt", "outcomes.json"):
        assert (folder / report).is_file(), report
    assert f"scenario {name}:" in result.stdout


@pytest.mark.parametrize(
    ("name", "scale", "duration"), [("brute-force", 0.1, 4), ("bot-attack", 0.05, 5)]
)
def test_attack_scenario_passes(
    service: dict[str, str], tmp_path: Path, name: str, scale: float, duration: float
) -> None:
    result, summary, folder = run_scenario(service, name, tmp_path, scale, duration)
    failed = [check for check in summary["checks"] if not check["passed"]]

    assert failed == [], result.stdout
    assert result.returncode == 0, result.stderr
    assert (folder / "locust.html").is_file()


def test_harness_smoke(tmp_path: Path) -> None:
    """One short round of U, S and F: every figure and both ratios are reported."""
    require_binaries()
    report_path = tmp_path / "bench.json"
    command = [
        sys.executable, str(ROOT / "tests" / "benchmarks" / "harness.py"),
        "--rounds", "1", "--warmup", "0", "--saturation", "1", "--latency", "1",
        "--fractions", "0.1", "--soak", "2", "--json", str(report_path),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    summary = report["summary"]

    assert sorted(summary["variants"]) == ["F", "S", "U"]
    assert sorted(summary["ratios"]) == ["F/S", "F/U"]
    assert "added_cpu_f_over_s" in summary
    for ratios in summary["ratios"].values():
        assert {"rps", "cpu_us", "startup_s", "rss_mib", "paced0_p99_ms"} <= set(ratios)
    assert report["telemetry"]["F"], "no F traces reached Jaeger"
    assert report["telemetry"]["S"], "no S traces reached Jaeger"
    # Only the upstream ASGI instrumentation names spans "... http send", so S
    # really ran the upstream distribution and F did not.
    assert any(name.endswith("http send") for name in report["telemetry"]["S"])
    assert not any(name.endswith("http send") for name in report["telemetry"]["F"])
    assert "F/S" in result.stdout
    completeness = report["completeness"]
    assert completeness["requests"] > 0
    assert completeness["missing_spans"] == 0, completeness
    assert completeness["loss_lines_in_log"] == 0, completeness
