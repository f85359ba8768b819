"""The ``otel-flux security`` commands against a real Redis."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from redis import Redis

from otel_flux.security import commands


@pytest.fixture
def sync_redis(redis_port: int) -> Iterator[Redis]:
    client = Redis(host="127.0.0.1", port=redis_port)
    client.flushall()
    yield client
    client.close()


def run(redis_port: int, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="otel-flux")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["security", "--redis-url", f"redis://127.0.0.1:{redis_port}/0", *argv]
    )
    result: int = args.func(args)
    return result


def test_bans_lists_remaining_time(
    sync_redis: Redis, redis_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """security bans prints each banned address with its remaining time."""
    sync_redis.set("flux:sec:ban:192.0.2.4", "2", px=90_000)
    sync_redis.set("flux:sec:offences:192.0.2.4", "2", px=90_000)

    status = run(redis_port, "bans")

    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].split() == ["ADDRESS", "REMAINING_S", "OFFENCES"]
    address, remaining, offences = lines[1].split()
    assert address == "192.0.2.4"
    assert 80 < float(remaining) <= 90
    assert offences == "2"


def test_bans_reports_none(
    redis_port: int, capsys: pytest.CaptureFixture[str], sync_redis: Redis
) -> None:
    """Without bans the command prints that there are none."""
    run(redis_port, "bans")

    assert capsys.readouterr().out.strip() == "No active bans."


def test_unban_resets_address(sync_redis: Redis, redis_port: int) -> None:
    """security unban deletes the ban, reputation, offences and failures of the /64."""
    client = "2001:db8:5::/64"
    for kind in ("ban", "rep", "offences", "fail:addr"):
        sync_redis.set(f"flux:sec:{kind}:{client}", "1", px=60_000)

    status = run(redis_port, "unban", "2001:db8:5::99")

    assert status == 0
    assert sync_redis.dbsize() == 0


def test_allow_sets_expiring_entry(sync_redis: Redis, redis_port: int) -> None:
    """security allow adds an allow key with a TTL and lifts a ban."""
    sync_redis.set("flux:sec:ban:192.0.2.8", "1", px=60_000)

    status = run(redis_port, "allow", "::ffff:192.0.2.8", "--days", "2")

    ttl = sync_redis.pttl("flux:sec:allow:192.0.2.8")
    assert status == 0
    assert 0 < ttl <= 2 * 86_400_000
    assert sync_redis.exists("flux:sec:ban:192.0.2.8") == 0


def test_invalid_address_exit_status(
    sync_redis: Redis, redis_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid address exits with 2 and names the value."""
    status = run(redis_port, "unban", "not-an-address")

    assert status == 2
    assert "'not-an-address'" in capsys.readouterr().err


def test_unreachable_redis_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """A Redis that refuses connections gives exit status 1 and a message."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    status = run(port, "bans")

    assert status == 1
    assert "FLUX_REDIS_URL" in capsys.readouterr().err
