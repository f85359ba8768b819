"""Rendered rules: committed file up to date, promtool passes, evaluator agrees."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from otel_flux.alerts.evaluator import decide
from otel_flux.alerts.render import DEFAULT_WINDOW, build_rules, recording_names, render_rules
from otel_flux.alerts.scenarios import (
    EVAL_TIME,
    INSTANCE,
    JOB,
    Scenario,
    alert_inputs,
    input_series,
    render_rule_tests,
    scenarios,
)
from otel_flux.alerts.thresholds import ALERTS, Thresholds, read_thresholds
from otel_flux.alerts.yamltext import dump
from otel_flux.cli import main
from otel_flux.metrics.views import histogram_edges

RULES_DIR = Path(__file__).resolve().parents[2] / "collector-config" / "rules"
RULES = RULES_DIR / "flux-alerts.yml"
RULE_TESTS = RULES_DIR.parent / "rule-tests" / "flux-alerts.test.yml"

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")


def _promtool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_committed_rules_match_render() -> None:
    assert RULES.read_text(encoding="utf-8") == render_rules(read_thresholds(environ={}))


def test_committed_rule_tests_match_render() -> None:
    assert RULE_TESTS.read_text(encoding="utf-8") == render_rule_tests(Thresholds())


def test_every_alert_rendered() -> None:
    alerts = [rule["alert"] for rule in build_rules(Thresholds())["groups"][1]["rules"]]

    assert alerts == [alert.name for alert in ALERTS]


def test_threshold_setting_changes_rule() -> None:
    rules = render_rules(read_thresholds(environ={"FLUX_ALERT_REDIS_P99_MS": "20"}))

    assert "p99_rate5m > 0.02 and on" in rules


def test_memory_description_names_for() -> None:
    """The memory rule has no rate window, so its description gives the for period."""
    alerts = build_rules(Thresholds(), window="30s", for_="10s")["groups"][1]["rules"]
    memory = next(rule for rule in alerts if rule["alert"] == "FluxMemoryHigh")

    assert memory["annotations"]["description"] == (
        "Above 500 MiB for 10s (set by FLUX_ALERT_MEMORY_MB)."
    )


def test_invalid_window_rejected() -> None:
    with pytest.raises(ValueError, match="Prometheus duration"):
        build_rules(Thresholds(), window="5 minutes")


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda scenario: scenario.name)
def test_evaluator_matches_scenario(scenario: Scenario) -> None:
    """The in-process evaluator fires exactly the alerts promtool expects for the scenario."""
    thresholds = Thresholds()
    firing = {d.name for d in decide(alert_inputs(scenario, thresholds), thresholds) if d.firing}

    assert firing == scenario.expected


@needs_promtool
def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", RULES.name, cwd=RULES_DIR)

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_rule_tests_pass() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_catches_moved_threshold(tmp_path: Path) -> None:
    """The promtool tests fail when the rules use a threshold the scenarios do not expect."""
    moved = read_thresholds(environ={"FLUX_ALERT_MEMORY_MB": "502"})
    (tmp_path / "flux-alerts.yml").write_text(render_rules(moved), encoding="utf-8")
    (tmp_path / "tests.yml").write_text(render_rule_tests(Thresholds()), encoding="utf-8")
    result = _promtool("test", "rules", "tests.yml", cwd=tmp_path)

    assert result.returncode != 0


def test_cli_render_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["alerts", "render"])

    assert code == 0
    assert capsys.readouterr().out == render_rules(read_thresholds())


def test_cli_rejects_invalid_threshold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLUX_ALERT_CPU_PCT", "120")
    code = main(["alerts", "render"])

    assert code == 2
    assert "FLUX_ALERT_CPU_PCT" in capsys.readouterr().err


def _error_ratio_test(scenario: Scenario, expected: float) -> dict[str, object]:
    edges = histogram_edges(environ={}, thresholds=Thresholds())
    series = recording_names(DEFAULT_WINDOW)["http_error_ratio"]
    return {
        "name": scenario.name,
        "interval": "1m",
        "input_series": input_series(scenario, edges),
        "promql_expr_test": [
            {
                "expr": series,
                "eval_time": EVAL_TIME,
                "exp_samples": [
                    {"labels": f'{series}{{instance="{INSTANCE}", job="{JOB}"}}', "value": expected}
                ],
            }
        ],
    }


@needs_promtool
def test_error_ratio_recorded_without_errors(tmp_path: Path) -> None:
    """The error-ratio series is 0, not absent, while no response is a 5xx."""
    only_ok = Scenario("only 200", frozenset())
    some_errors = Scenario("3% 503", frozenset(), requests=((0.01, 200, 97), (0.01, 503, 3)))
    document = {
        "rule_files": ["flux-alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [_error_ratio_test(only_ok, 0.0), _error_ratio_test(some_errors, 0.03)],
    }
    (tmp_path / "flux-alerts.yml").write_text(render_rules(Thresholds()), encoding="utf-8")
    (tmp_path / "tests.yml").write_text(dump(document), encoding="utf-8")

    result = _promtool("test", "rules", "tests.yml", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
