"""Alerting rules on the Collector's own metrics: rendered, and checked by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from otel_flux.alerts import pipeline
from otel_flux.alerts.render import build_rules, render_rules
from otel_flux.alerts.thresholds import Thresholds

CONFIG_DIR = Path(__file__).resolve().parents[2] / "collector-config"
RULE_TEST = CONFIG_DIR / "rule-tests" / "pipeline-alerts.test.yml"

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")


def _promtool_test(test_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "test", "rules", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        check=False,
    )


def test_pipeline_group_rendered() -> None:
    groups = build_rules(Thresholds())["groups"]

    assert groups[-1]["name"] == "flux-pipeline"


def test_pipeline_alert_names() -> None:
    alerts = [rule["alert"] for rule in pipeline.pipeline_group()["rules"]]

    assert alerts == [pipeline.DROPPED, pipeline.QUEUE_FILLING]


@pytest.mark.parametrize(
    "metric",
    [
        "otelcol_receiver_refused_spans",
        "otelcol_receiver_refused_metric_points",
        "otelcol_exporter_send_failed_spans",
        "otelcol_exporter_enqueue_failed_log_records",
        "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
    ],
)
def test_dropped_selector_names_counter(metric: str) -> None:
    pattern = re.search(r'__name__=~"(?P<regex>[^"]+)"', pipeline.DROPPED_SELECTOR)
    assert pattern is not None

    assert re.fullmatch(pattern.group("regex"), metric)


@needs_promtool
def test_promtool_pipeline_rule_tests_pass() -> None:
    result = _promtool_test(RULE_TEST)

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_catches_moved_queue_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promtool tests fail when the queue alert fires at another ratio."""
    monkeypatch.setattr(pipeline, "QUEUE_FULL_RATIO", 0.95)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rule-tests").mkdir()
    (tmp_path / "rules" / "flux-alerts.yml").write_text(render_rules(Thresholds()))
    test_file = tmp_path / "rule-tests" / RULE_TEST.name
    shutil.copy(RULE_TEST, test_file)

    result = _promtool_test(test_file)

    assert result.returncode != 0
