"""Every Collector, Jaeger and Prometheus config in the repository is valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from otel_flux.stack import config
from otel_flux.stack.components import render_prometheus_config

ROOT = Path(__file__).resolve().parents[3]
COLLECTOR_CONFIGS = sorted(
    path
    for pattern in ("collector-config/**/otelcol*.yaml", "deploy/**/otelcol*.yaml")
    for path in ROOT.glob(pattern)
)

pytestmark = pytest.mark.stack


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_collector_configs_found() -> None:
    assert ROOT / "collector-config" / "otelcol-flux.yaml" in COLLECTOR_CONFIGS


@pytest.mark.parametrize("path", COLLECTOR_CONFIGS, ids=lambda path: path.name)
def test_collector_config_validates(built_binaries: dict[str, Path], path: Path) -> None:
    result = _run([str(built_binaries["otelcol-flux"]), "validate", f"--config={path}"])

    assert result.returncode == 0, result.stderr


def test_collector_validate_rejects_unknown_component(
    built_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """Guards the test above: validate must fail on a config it cannot build."""
    broken = tmp_path / "broken.yaml"
    source = (ROOT / "collector-config" / "otelcol-flux.yaml").read_text()
    broken.write_text(source.replace("exporters: [prometheus]", "exporters: [no_such_exporter]"))

    result = _run([str(built_binaries["otelcol-flux"]), "validate", f"--config={broken}"])

    assert result.returncode != 0
    assert "no_such_exporter" in result.stderr


def test_collector_lists_required_components(built_binaries: dict[str, Path]) -> None:
    result = _run([str(built_binaries["otelcol-flux"]), "components"])

    for name in (
        "otlp",
        "memory_limiter",
        "batch",
        "redaction",
        "resource",
        "probabilistic_sampler",
        "otlp_grpc",
        "otlp_http",
        "debug",
        "prometheus",
        "span_metrics",
        "health_check",
    ):
        assert f"- name: {name}\n" in result.stdout, name


def test_jaeger_config_validates(built_binaries: dict[str, Path]) -> None:
    path = ROOT / "collector-config" / "jaeger" / "config.yaml"

    result = _run([str(built_binaries["jaeger"]), "validate", f"--config={path}"])

    assert result.returncode == 0, result.stderr


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing; install the Debian package prometheus")
    return found


def test_prometheus_config_passes_promtool() -> None:
    result = _run(
        [_promtool(), "check", "config", str(ROOT / "collector-config" / "prometheus.yml")]
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    settings = config.load({"FLUX_RUN_DIR": str(tmp_path), "FLUX_COLLECTOR_EXPORTER_PORT": "18889"})
    rendered = render_prometheus_config(settings)

    result = _run([_promtool(), "check", "config", str(rendered)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"127.0.0.1:18889"' in rendered.read_text()


def test_rendered_config_uses_rules_dir_and_interval(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    settings = config.load(
        {
            "FLUX_RUN_DIR": str(tmp_path / "run"),
            "FLUX_STACK_RULES_DIR": str(rules_dir),
            "FLUX_STACK_PROMETHEUS_INTERVAL_S": "1",
        }
    )
    settings.run_dir.mkdir()
    rendered = render_prometheus_config(settings)
    text = rendered.read_text()

    result = _run([_promtool(), "check", "config", str(rendered)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"  - {rules_dir}/*.yml" in text
    assert "  scrape_interval: 1s" in text
    assert "  evaluation_interval: 1s" in text
