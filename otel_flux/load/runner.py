"""Run one load scenario with Locust in a subprocess, then judge and report it.

A run writes into its own folder: Locust's CSV files (``locust_stats.csv`` and
the others) and HTML report, the per-client statuses (``outcomes.json``) and
the verdict (``summary.json`` and ``summary.txt``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from redis import Redis
from redis.exceptions import RedisError

from otel_flux.errors import FluxError
from otel_flux.load import checks
from otel_flux.load.addresses import Role, client_address, client_key
from otel_flux.load.checks import CheckResult, ClientState
from otel_flux.load.scenarios import Scenario
from otel_flux.security.keys import KeySpace

_logger = logging.getLogger(__name__)

_LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Seconds Locust may take beyond the scenario to spawn users and stop them.
_LOCUST_GRACE_S = 60.0
_POLICY = re.compile(r'"default";q=(\d+);w=(\d+)')


class LoadRunError(FluxError):
    """The scenario could not run: bad target, service not ready, or Locust failed."""


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """The general rate limit the service announced in ``RateLimit-Policy``."""

    limit: int
    window_s: int


@dataclass(slots=True)
class RunSummary:
    """Everything a run reports: what ran, the figures, and each check."""

    scenario: str
    url: str
    results_dir: str
    run_tag: int
    duration_s: float
    visitors: int
    attackers: int
    attacker_pace_per_s: float
    stats: dict[str, float] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def run(
    scenario: Scenario,
    url: str,
    results_root: Path,
    redis_url: str,
    key_prefix: str,
    brute_force_threshold: int,
    say: Callable[[str], None] = print,
) -> RunSummary:
    """Run ``scenario`` against the service at ``url`` and return its judged summary."""
    check_loopback(url)
    results_dir = results_root / f"{scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    results_dir.mkdir(parents=True, exist_ok=True)
    run_tag = secrets.randbelow(0x10000)
    keys = KeySpace(key_prefix)

    with Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5) as redis:
        policy = preflight(url, redis, keys, run_tag, needs_security=scenario.attackers > 0)
        pace = attacker_pace(scenario, policy)
        say(
            f"{scenario.name}: {scenario.visitors} users, {scenario.attackers} attackers "
            f"at {pace:g}/s each, {scenario.duration_s:g} s against {url}; results in "
            f"{results_dir}"
        )
        run_locust(scenario, url, results_dir, run_tag, pace)
        outcomes = _read_outcomes(results_dir / "outcomes.json")
        attack = {**outcomes.get("attackers", {}), **outcomes.get("bots", {})}
        states = read_states(redis, keys, list(attack))

    stats = checks.read_stats(results_dir / "locust_stats.csv")
    summary = RunSummary(
        scenario=scenario.name,
        url=url,
        results_dir=str(results_dir),
        run_tag=run_tag,
        duration_s=scenario.duration_s,
        visitors=scenario.visitors,
        attackers=scenario.attackers,
        attacker_pace_per_s=pace,
        stats={**asdict(stats), "failure_pct": stats.failure_pct},
        checks=judge(scenario, stats, outcomes, states, brute_force_threshold),
    )
    write_summary(summary, results_dir)
    return summary


def check_loopback(url: str) -> None:
    """Raise LoadRunError unless ``url`` is an http URL on a loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or not host:
        raise LoadRunError(f"invalid service URL {url!r}: expected http://127.0.0.1:PORT")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise LoadRunError(
                f"refusing to send load to {host!r}: the scenarios target only loopback "
                "addresses (127.0.0.0/8, ::1, localhost) on this machine"
            )


def preflight(
    url: str, redis: Redis, keys: KeySpace, run_tag: int, *, needs_security: bool
) -> RateLimitPolicy | None:
    """Check that the service is up and counts X-Forwarded-For addresses separately.

    One request with a probe address must create that address's rate-limit
    counter in Redis. Returns the announced general rate limit, or None when
    the service sends none (security middleware off).
    """
    probe = client_address(run_tag, Role.PROBE, 0)
    # check_loopback has limited url to http on loopback.
    request = urllib.request.Request(  # noqa: S310
        f"{url}/health", headers={"X-Forwarded-For": probe}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            header = response.headers.get("RateLimit-Policy")
    except (urllib.error.URLError, OSError) as exc:
        raise LoadRunError(f"the service at {url} is not reachable: {exc}") from exc
    policy = _parse_policy(header)

    try:
        counted = redis.exists(keys.rate_limit("default", client_key(probe))) == 1
    except RedisError as exc:
        raise LoadRunError(f"Redis failed during the pre-flight check: {exc}") from exc
    if needs_security and policy is None:
        raise LoadRunError(
            f"the service at {url} sent no RateLimit-Policy header, so its security "
            "middleware is off; start it with FLUX_DEMO_SECURITY=true"
        )
    if needs_security and not counted:
        raise LoadRunError(
            "the service did not count the X-Forwarded-For address of a probe request "
            f"in Redis under the prefix {keys.prefix!r}; start it with "
            "FLUX_TRUSTED_PROXIES=127.0.0.1/32, and check that --redis-url and "
            "FLUX_SECURITY_KEY_PREFIX match the service's"
        )
    if not counted:
        _logger.warning("the service does not count X-Forwarded-For addresses separately")
    return policy


def _parse_policy(header: str | None) -> RateLimitPolicy | None:
    match = _POLICY.search(header or "")
    if match is None:
        return None
    return RateLimitPolicy(int(match.group(1)), int(match.group(2)))


def attacker_pace(scenario: Scenario, policy: RateLimitPolicy | None) -> float:
    """Return the requests per second of each attacker or bot."""
    if scenario.attempts_per_s:
        return scenario.attempts_per_s
    if scenario.bot_excess_per_window:
        if policy is None:
            raise LoadRunError("the bot scenario needs the service's RateLimit-Policy header")
        return (policy.limit + scenario.bot_excess_per_window) / policy.window_s
    return 1.0


def run_locust(
    scenario: Scenario, url: str, results_dir: Path, run_tag: int, attacker_pace_per_s: float
) -> None:
    """Run Locust headless for the scenario; raise LoadRunError if it produced no report."""
    classes = ["Visitor"] if scenario.visitors else []
    if scenario.attackers:
        classes.append("BruteForceAttacker" if scenario.attempts_per_s else "Bot")
    users = scenario.visitors + scenario.attackers
    command = [
        sys.executable, "-m", "locust",
        "-f", str(_LOCUSTFILE),
        "--headless", "--only-summary",
        "--host", url,
        "--users", str(users),
        # Spawn everyone within about two seconds.
        "--spawn-rate", str(max(1, math.ceil(users / 2))),
        "--run-time", f"{math.ceil(scenario.duration_s)}s",
        "--stop-timeout", "5",
        "--csv", str(results_dir / "locust"),
        "--html", str(results_dir / "locust.html"),
        "--loglevel", "WARNING",
        "--flux-run-tag", str(run_tag),
        "--flux-outcomes", str(results_dir / "outcomes.json"),
        "--flux-visitors", str(scenario.visitors),
        "--flux-visitor-pace", repr(scenario.visitor_pace_per_s),
        "--flux-attackers", str(scenario.attackers),
        "--flux-attacker-pace", repr(attacker_pace_per_s),
        # Start offsets spread users over one request interval, capped so
        # that every user sends in short runs too.
        "--flux-max-offset", repr(scenario.duration_s / 2),
        *classes,
    ]  # fmt: skip
    log_path = results_dir / "locust.log"
    with log_path.open("wb") as log:
        try:
            subprocess.run(  # noqa: S603 (fixed command, no shell)
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=scenario.duration_s + _LOCUST_GRACE_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LoadRunError(f"Locust did not stop in time; see {log_path}") from exc
    # Locust exits 1 whenever a request failed; the checks judge that instead.
    for name in ("locust_stats.csv", "outcomes.json"):
        if not (results_dir / name).is_file():
            raise LoadRunError(f"Locust wrote no {name}; see {log_path}")


def _read_outcomes(path: Path) -> dict[str, dict[str, list[int]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {group: data.get(group, {}) for group in ("visitors", "attackers", "bots")}


def read_states(redis: Redis, keys: KeySpace, addresses: Sequence[str]) -> dict[str, ClientState]:
    """Read the ban time left and the stored reputation of each address."""
    names = [client_key(address) for address in addresses]
    pipeline = redis.pipeline(transaction=False)
    for name in names:
        pipeline.pttl(keys.ban(name))
        pipeline.hget(keys.reputation(name), "s")
    try:
        replies = pipeline.execute()
    except RedisError as exc:
        raise LoadRunError(f"Redis failed while reading bans: {exc}") from exc
    states = {}
    for index, address in enumerate(addresses):
        ban_ms, score = replies[2 * index], replies[2 * index + 1]
        states[address] = ClientState(
            ban_ms=max(0, int(ban_ms)), reputation=None if score is None else float(score)
        )
    return states


def judge(
    scenario: Scenario,
    stats: checks.RequestStats,
    outcomes: Mapping[str, Mapping[str, Sequence[int]]],
    states: Mapping[str, ClientState],
    brute_force_threshold: int,
) -> list[CheckResult]:
    """Return every check that applies to the scenario."""
    results = checks.threshold_checks(scenario, stats)
    results += checks.visitor_checks(outcomes.get("visitors", {}))
    if scenario.attempts_per_s:
        attackers = outcomes.get("attackers", {})
        results += checks.brute_force_checks(attackers, brute_force_threshold, states)
    if scenario.bot_excess_per_window:
        results += checks.bot_checks(outcomes.get("bots", {}), states)
    return results


def write_summary(summary: RunSummary, results_dir: Path) -> None:
    """Write summary.json and summary.txt into the run's folder."""
    data = asdict(summary)
    data["passed"] = summary.passed
    (results_dir / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    (results_dir / "summary.txt").write_text(format_summary(summary) + "\n")


def format_summary(summary: RunSummary) -> str:
    """Return the summary as the text the command prints."""
    stats = summary.stats
    lines = [
        f"scenario {summary.scenario}: {'PASS' if summary.passed else 'FAIL'}",
        f"  {summary.visitors} users, {summary.attackers} attackers, "
        f"{summary.duration_s:g} s, run tag {summary.run_tag:x}",
        f"  requests {stats['requests']:,.0f}, failures {stats['failures']:,.0f} "
        f"({stats['failure_pct']:.3f}%), p50 {stats['p50_ms']:g} ms, "
        f"p95 {stats['p95_ms']:g} ms, p99 {stats['p99_ms']:g} ms",
    ]
    for check in summary.checks:
        lines.append(f"  [{'pass' if check.passed else 'FAIL'}] {check.name}: {check.detail}")
    lines.append(f"  reports: {summary.results_dir}")
    return "\n".join(lines)
