"""Pass/fail decisions of the load checks, on recorded statuses and Redis states."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_flux.load import checks, scenarios
from otel_flux.load.checks import ClientState, RequestStats

BANNED = ClientState(ban_ms=60_000, reputation=0.0)
FREE = ClientState(ban_ms=0, reputation=None)


def by_name(results: list[checks.CheckResult]) -> dict[str, bool]:
    return {result.name: result.passed for result in results}


def test_read_stats_takes_aggregated_row(tmp_path: Path) -> None:
    csv_path = tmp_path / "locust_stats.csv"
    csv_path.write_text(
        "Type,Name,Request Count,Failure Count,50%,95%,99%\n"
        "GET,/api/files,10,0,5,9,12\n"
        ",Aggregated,40,2,6,40,90\n"
    )

    stats = checks.read_stats(csv_path)

    assert stats == RequestStats(requests=40, failures=2, p50_ms=6, p95_ms=40, p99_ms=90)


def test_read_stats_without_aggregate_raises(tmp_path: Path) -> None:
    csv_path = tmp_path / "locust_stats.csv"
    csv_path.write_text("Type,Name,Request Count,Failure Count,50%,95%,99%\n")

    with pytest.raises(ValueError, match="no 'Aggregated' row"):
        checks.read_stats(csv_path)


def test_normal_thresholds_pass() -> None:
    normal = scenarios.get("normal")
    # 2,000 requests in 120 s is 1,000 per minute, the scenario's target.
    stats = RequestStats(requests=2000, failures=1, p50_ms=5, p95_ms=99, p99_ms=199)

    results = by_name(checks.threshold_checks(normal, stats))

    assert results == {
        "request rate within 20% of 1,000/min": True,
        "p95 < 100 ms": True,
        "p99 < 200 ms": True,
        "failures < 0.1 %": True,
    }


def test_normal_thresholds_fail() -> None:
    normal = scenarios.get("normal")
    stats = RequestStats(requests=1000, failures=3, p50_ms=5, p95_ms=100, p99_ms=250)

    results = by_name(checks.threshold_checks(normal, stats))

    assert results["request rate within 20% of 1,000/min"] is False
    assert results["p95 < 100 ms"] is False
    assert results["p99 < 200 ms"] is False
    assert results["failures < 0.1 %"] is False


def test_visitor_blocked_fails() -> None:
    visitors = {"2001:db8::1": [200, 200], "2001:db8:0:1::1": [200, 429]}

    results = by_name(checks.visitor_checks(visitors))

    assert results["no legitimate user blocked"] is False
    assert results["every legitimate user sent requests"] is True


def test_brute_force_all_pass() -> None:
    attackers = {"a": [401] * 5 + [403] * 10, "b": [401] * 5 + [403, 429]}
    states = {"a": BANNED, "b": BANNED}

    results = checks.brute_force_checks(attackers, 5, states)

    assert all(result.passed for result in results), results


def test_brute_force_attempt_let_through() -> None:
    attackers = {"a": [401] * 6 + [403]}

    results = by_name(checks.brute_force_checks(attackers, 5, {"a": BANNED}))

    assert results["every attempt after the 5th per address blocked"] is False


def test_brute_force_blocked_too_early() -> None:
    attackers = {"a": [401, 401, 429, 429, 429, 429]}

    results = by_name(checks.brute_force_checks(attackers, 5, {"a": FREE}))

    assert results["first 5 attempts per address reach the app"] is False
    assert results["every attacker banned"] is False


def test_brute_force_too_few_attempts() -> None:
    attackers = {"a": [401] * 5}

    results = by_name(checks.brute_force_checks(attackers, 5, {"a": BANNED}))

    assert results["every attacker made more than 5 attempts"] is False


def test_bot_limited_then_banned_passes() -> None:
    bots = {"b": [200] * 3 + [429] * 4 + [403] * 2}

    results = checks.bot_checks(bots, {"b": BANNED})

    assert all(result.passed for result in results), results


def test_bot_banned_without_429_fails() -> None:
    bots = {"b": [200] * 3 + [403]}

    results = by_name(checks.bot_checks(bots, {"b": BANNED}))

    assert results["every bot rate-limited, then banned"] is False


def test_bot_reputation_above_zero_fails() -> None:
    bots = {"b": [200, 429, 403]}
    states = {"b": ClientState(ban_ms=1000, reputation=35.0)}

    results = by_name(checks.bot_checks(bots, states))

    assert results["every bot's reputation is 0"] is False
    assert results["every bot banned"] is True


def test_no_bots_fails() -> None:
    results = checks.bot_checks({}, {})

    assert not any(result.passed for result in results)
