"""Scenario sizes, scaling, client addresses and the runner's input checks."""

from __future__ import annotations

import pytest

from otel_flux.load import runner, scenarios
from otel_flux.load.addresses import Role, client_address, client_key
from otel_flux.security.client import ClientResolver


def test_scaled_keeps_pace_per_user() -> None:
    normal = scenarios.get("normal")

    smoke = normal.scaled(0.05, duration_s=5)

    assert smoke.visitors == 5
    assert smoke.visitor_pace_per_s == pytest.approx(normal.visitor_pace_per_s)
    assert smoke.visitor_rate_per_min == pytest.approx(50)
    assert smoke.duration_s == 5


def test_scaled_keeps_one_attacker() -> None:
    assert scenarios.get("brute-force").scaled(0.001).attackers == 1


@pytest.mark.parametrize("scale", [0, -1, 11])
def test_invalid_scale_rejected(scale: float) -> None:
    with pytest.raises(ValueError, match="invalid scale"):
        scenarios.get("normal").scaled(scale)


def test_unknown_scenario_lists_choices() -> None:
    with pytest.raises(ValueError, match="normal, peak, brute-force, bot-attack"):
        scenarios.get("flood")


def test_clients_get_distinct_keys() -> None:
    addresses = [client_address(7, role, index) for role in Role for index in range(300)]

    keys = {client_key(address) for address in addresses}

    assert len(keys) == len(addresses)


def test_client_key_matches_middleware() -> None:
    """The key the checks read is the one the middleware derives from X-Forwarded-For."""
    address = client_address(0, Role.VISITOR, 0)
    resolver = ClientResolver(())
    scope = {"type": "http", "client": (address, 1234), "headers": []}

    assert client_key(address) == resolver.resolve(scope).key


def test_run_tag_out_of_range_rejected() -> None:
    with pytest.raises(ValueError, match="invalid run tag"):
        client_address(0x10000, Role.BOT, 0)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://127.3.4.5:80", "http://[::1]:8000", "http://localhost"]
)
def test_loopback_urls_accepted(url: str) -> None:
    runner.check_loopback(url)


@pytest.mark.parametrize(
    "url", ["http://192.0.2.10:8000", "http://example.com", "https://127.0.0.1", "ftp://[::1]"]
)
def test_other_urls_rejected(url: str) -> None:
    with pytest.raises(runner.LoadRunError):
        runner.check_loopback(url)


def test_bot_pace_from_policy() -> None:
    bots = scenarios.get("bot-attack")
    policy = runner.RateLimitPolicy(limit=100, window_s=60)

    assert runner.attacker_pace(bots, policy) == pytest.approx(150 / 60)


def test_bot_pace_needs_policy() -> None:
    with pytest.raises(runner.LoadRunError, match="RateLimit-Policy"):
        runner.attacker_pace(scenarios.get("bot-attack"), None)
