"""The load scenarios, their sizes and their pass/fail thresholds.

Sizes are given at scale 1, the full size. ``Scenario.scaled`` shrinks the
number of users and addresses, and with them the request rate, so the same
scenario runs as a smoke test of a few seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Scenario:
    """One load scenario; rates are requests per minute, durations seconds."""

    name: str
    description: str
    # Legitimate users, each from its own client address.
    visitors: int
    # Total request rate of the legitimate users.
    visitor_rate_per_min: float
    # Attacker addresses: brute-force attackers or bots, by scenario.
    attackers: int
    duration_s: float
    # Latency and failure thresholds over the legitimate users' requests;
    # None where the scenario does not judge them.
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_failure_pct: float | None = None
    # Failed logins per second from each brute-force attacker.
    attempts_per_s: float = 0.0
    # Requests that each bot sends per rate-limit window above the limit; the
    # default window is 60 s, so 50 here means 50 requests per minute.
    bot_excess_per_window: float = 0.0

    @property
    def visitor_pace_per_s(self) -> float:
        """Requests per second of one legitimate user."""
        return self.visitor_rate_per_min / 60 / self.visitors if self.visitors else 0.0

    def scaled(self, scale: float, duration_s: float | None = None) -> Scenario:
        """Return the scenario with ``scale`` times the users, addresses and rate."""
        if not 0 < scale <= 10:
            raise ValueError(f"invalid scale {scale:g}: expected a number above 0 and up to 10")
        if duration_s is not None and not 1 <= duration_s <= 86400:
            raise ValueError(f"invalid duration {duration_s:g} s: expected from 1 to 86400 seconds")
        visitors = _scale_count(self.visitors, scale)
        pace = self.visitor_pace_per_s
        return replace(
            self,
            visitors=visitors,
            visitor_rate_per_min=pace * visitors * 60,
            attackers=_scale_count(self.attackers, scale),
            duration_s=self.duration_s if duration_s is None else duration_s,
        )


def _scale_count(count: int, scale: float) -> int:
    return 0 if count == 0 else max(1, math.ceil(count * scale))


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="normal",
            description="100 users browsing files and logging in, 1,000 requests per minute",
            visitors=100,
            visitor_rate_per_min=1000,
            attackers=0,
            duration_s=120,
            p95_ms=100,
            p99_ms=200,
            max_failure_pct=0.1,
        ),
        Scenario(
            name="peak",
            description="500 users browsing files and logging in, 5,000 requests per minute",
            visitors=500,
            visitor_rate_per_min=5000,
            attackers=0,
            duration_s=120,
            p95_ms=200,
            p99_ms=500,
            max_failure_pct=1.0,
        ),
        Scenario(
            name="brute-force",
            description=(
                "50 attacker addresses, 10 failed logins per second each, against the demo "
                "accounts; 10 users keep logging in to the same accounts"
            ),
            visitors=10,
            visitor_rate_per_min=60,
            attackers=50,
            duration_s=30,
            attempts_per_s=10,
        ),
        Scenario(
            name="bot-attack",
            description=(
                "100 bot addresses, each 50 requests per minute above the rate limit; "
                "10 users browse at the same time"
            ),
            visitors=10,
            visitor_rate_per_min=100,
            attackers=100,
            duration_s=90,
            bot_excess_per_window=50,
        ),
    )
}


def get(name: str) -> Scenario:
    """Return the scenario called ``name``, raising ValueError with the choices if unknown."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}: expected one of {', '.join(SCENARIOS)}"
        ) from None
