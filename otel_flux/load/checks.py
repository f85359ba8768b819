"""Pass/fail checks of a load run: latency and failure thresholds, security outcomes.

The latency figures come from Locust's ``*_stats.csv``. The security checks
read the per-client statuses that the Locust users recorded and the bans and
reputation scores in Redis, under the keys the security middleware writes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_flux.load.scenarios import Scenario

# Statuses the security middleware returns when it blocks a request.
BLOCKED = frozenset({403, 429})
# Share of the target request rate a run must reach for its figures to count.
_RATE_TOLERANCE = 0.2


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One pass/fail condition with the measured value in words."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class RequestStats:
    """Locust's aggregate row: counts and percentiles in milliseconds."""

    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def failure_pct(self) -> float:
        return 100 * self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class ClientState:
    """A client's ban and reputation in Redis at the end of a run."""

    ban_ms: int
    # Stored score, or None when no score is stored, which means 100.
    reputation: float | None


def read_stats(stats_csv: Path, name: str = "Aggregated") -> RequestStats:
    """Read the row ``name`` of a Locust stats CSV, raising ValueError if it is missing."""
    with stats_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == name:
                return RequestStats(
                    requests=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    p50_ms=_number(row["50%"]),
                    p95_ms=_number(row["95%"]),
                    p99_ms=_number(row["99%"]),
                )
    raise ValueError(f"{stats_csv} has no {name!r} row; was the Locust run cut short?")


def _number(text: str) -> float:
    return float("nan") if text in ("", "N/A") else float(text)


def threshold_checks(scenario: Scenario, stats: RequestStats) -> list[CheckResult]:
    """Check the request rate, percentiles and failure share against the scenario."""
    results = [_rate_check(scenario, stats)]
    if scenario.p95_ms is not None:
        results.append(_below("p95", stats.p95_ms, scenario.p95_ms, "ms"))
    if scenario.p99_ms is not None:
        results.append(_below("p99", stats.p99_ms, scenario.p99_ms, "ms"))
    if scenario.max_failure_pct is not None:
        results.append(_below("failures", stats.failure_pct, scenario.max_failure_pct, "%"))
    return results


def _rate_check(scenario: Scenario, stats: RequestStats) -> CheckResult:
    target = scenario.visitor_rate_per_min
    achieved = stats.requests / scenario.duration_s * 60
    if scenario.attackers:
        # The attack traffic is judged by the security checks; only count it here.
        return CheckResult("request rate", True, f"{achieved:,.0f} requests/min in all")
    low, high = target * (1 - _RATE_TOLERANCE), target * (1 + _RATE_TOLERANCE)
    return CheckResult(
        f"request rate within {_RATE_TOLERANCE:.0%} of {target:,.0f}/min",
        low <= achieved <= high,
        f"{achieved:,.0f} requests/min",
    )


def _below(label: str, value: float, limit: float, unit: str) -> CheckResult:
    return CheckResult(f"{label} < {limit:g} {unit}", value < limit, f"{value:g} {unit}")


def visitor_checks(visitors: Mapping[str, Sequence[int]]) -> list[CheckResult]:
    """Check that no legitimate user was blocked and that each sent requests."""
    blocked = sorted(address for address, statuses in visitors.items() if BLOCKED & set(statuses))
    idle = sorted(address for address, statuses in visitors.items() if not statuses)
    return [
        CheckResult(
            "no legitimate user blocked",
            bool(visitors) and not blocked,
            f"{len(blocked)} of {len(visitors)} blocked{_examples(blocked)}",
        ),
        CheckResult(
            "every legitimate user sent requests",
            bool(visitors) and not idle,
            f"{len(visitors) - len(idle)} of {len(visitors)} sent requests",
        ),
    ]


def brute_force_checks(
    attackers: Mapping[str, Sequence[int]],
    threshold: int,
    states: Mapping[str, ClientState],
) -> list[CheckResult]:
    """Check that attempts up to ``threshold`` reached the app and every later one was blocked.

    A sequential attacker's first ``threshold`` failed logins reach the
    application, which returns 401. The failure that reaches the threshold bans the address
    before its response is sent, so every later attempt must be blocked.
    """
    short = sorted(a for a, statuses in attackers.items() if len(statuses) <= threshold)
    early = sorted(a for a, statuses in attackers.items() if BLOCKED & set(statuses[:threshold]))
    leaked = sorted(a for a, s in attackers.items() if not set(s[threshold:]) <= BLOCKED)
    attempts = sum(len(statuses) for statuses in attackers.values())
    blocked = sum(
        1 for statuses in attackers.values() for status in statuses[threshold:] if status in BLOCKED
    )
    return [
        CheckResult(
            f"every attacker made more than {threshold} attempts",
            bool(attackers) and not short,
            f"{len(attackers) - len(short)} of {len(attackers)}{_examples(short)}",
        ),
        CheckResult(
            f"first {threshold} attempts per address reach the app",
            not early,
            f"{len(early)} addresses blocked earlier{_examples(early)}",
        ),
        CheckResult(
            f"every attempt after the {_ordinal(threshold)} per address blocked",
            not leaked,
            f"{blocked} of {attempts - threshold * len(attackers)} blocked, "
            f"{len(leaked)} addresses let through{_examples(leaked)}",
        ),
        _banned_check("every attacker banned", attackers, states),
    ]


def bot_checks(
    bots: Mapping[str, Sequence[int]], states: Mapping[str, ClientState]
) -> list[CheckResult]:
    """Check that every bot was rate limited (429) before it was banned (403)."""
    not_limited = sorted(a for a, statuses in bots.items() if not _limited_then_banned(statuses))
    not_zero = sorted(a for a in bots if _reputation(states, a) != 0)
    return [
        CheckResult(
            "every bot rate-limited, then banned",
            bool(bots) and not not_limited,
            f"{len(bots) - len(not_limited)} of {len(bots)}{_examples(not_limited)}",
        ),
        _banned_check("every bot banned", bots, states),
        CheckResult(
            "every bot's reputation is 0",
            bool(bots) and not not_zero,
            f"{len(bots) - len(not_zero)} of {len(bots)} at 0{_examples(not_zero)}",
        ),
    ]


def _limited_then_banned(statuses: Sequence[int]) -> bool:
    if 403 not in statuses:
        return False
    first_ban = statuses.index(403)
    return 429 in statuses[:first_ban]


def _reputation(states: Mapping[str, ClientState], address: str) -> float | None:
    state = states.get(address)
    return None if state is None else state.reputation


def _banned_check(
    name: str, clients: Mapping[str, Sequence[int]], states: Mapping[str, ClientState]
) -> CheckResult:
    unbanned = sorted(a for a in clients if a not in states or states[a].ban_ms <= 0)
    return CheckResult(
        name,
        bool(clients) and not unbanned,
        f"{len(clients) - len(unbanned)} of {len(clients)} banned in Redis{_examples(unbanned)}",
    )


def _examples(addresses: Iterable[str], count: int = 3) -> str:
    shown = list(addresses)[:count]
    return f" (e.g. {', '.join(shown)})" if shown else ""


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    if 10 <= number % 100 <= 20:
        suffix = "th"
    return f"{number}{suffix}"
