"""``otel-flux security``: list bans, lift a ban, allow an address.

The commands talk to the Redis named by ``FLUX_REDIS_URL`` (or ``--redis-url``)
and use the key prefix from ``FLUX_SECURITY_KEY_PREFIX``, so they read and change
the same keys as the middleware of every instance.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any, TextIO

from redis import Redis
from redis.exceptions import RedisError

from otel_flux import settings
from otel_flux.security import config
from otel_flux.security.client import identity_key, normalise, parse_address
from otel_flux.security.keys import KeySpace

_DEFAULT_ALLOW_DAYS = 30.0


def register(subparsers: Any) -> None:
    """Add the ``security`` command group to the ``otel-flux`` parser."""
    parser = subparsers.add_parser("security", help="Inspect and change bans and the allowlist.")
    parser.add_argument(
        "--redis-url", help="Redis to use (default: FLUX_REDIS_URL, else redis://127.0.0.1:6379/0)"
    )
    commands = parser.add_subparsers(dest="security_command", metavar="SUBCOMMAND")
    commands.required = True

    bans = commands.add_parser("bans", help="List active bans with their remaining time.")
    bans.set_defaults(func=lambda args: _run(args, list_bans))

    unban = commands.add_parser("unban", help="Lift the ban on an address and reset its counts.")
    unban.add_argument("address", help="IPv4 or IPv6 address; IPv6 bans cover its /64")
    unban.set_defaults(func=lambda args: _run(args, lift_ban, args.address))

    allow = commands.add_parser("allow", help="Exempt an address from every check for a time.")
    allow.add_argument("address", help="IPv4 or IPv6 address; IPv6 entries cover its /64")
    allow.add_argument(
        "--days",
        type=float,
        default=_DEFAULT_ALLOW_DAYS,
        help=f"how long the exemption lasts, in days (default {_DEFAULT_ALLOW_DAYS:g})",
    )
    allow.set_defaults(func=lambda args: _run(args, allow_address, args.address, args.days))


def _run(args: argparse.Namespace, command: Any, *params: Any) -> int:
    url = args.redis_url or settings.REDIS_URL.read()
    keys = KeySpace(config.KEY_PREFIX.read())
    try:
        with Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5) as redis:
            result: int = command(redis, keys, *params, out=sys.stdout)
            return result
    except RedisError as exc:
        print(f"Redis at the configured URL failed: {exc}. Check FLUX_REDIS_URL.", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2


def client_key(text: str) -> str:
    """Return the key text of an address or IPv6 /64, raising ValueError if invalid."""
    address = parse_address(text)
    if address is not None:
        return identity_key(address)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"invalid address {text!r}: expected an IPv4 or IPv6 address such as 192.0.2.1"
        ) from None
    return identity_key(normalise(network.network_address))


def list_bans(redis: Redis, keys: KeySpace, *, out: TextIO) -> int:
    """Print each banned client with its remaining ban time and offence count."""
    rows: list[tuple[str, float, int]] = []
    for raw in redis.scan_iter(match=keys.ban("*"), count=500):
        name = raw.decode()
        remaining_ms = redis.pttl(name)
        if remaining_ms <= 0:
            continue
        client = keys.client_of(name, "ban")
        stored = redis.get(keys.offences(client))
        rows.append((client, remaining_ms / 1000, int(stored or 1)))
    if not rows:
        print("No active bans.", file=out)
        return 0
    width = max(len(row[0]) for row in rows)
    print(f"{'ADDRESS':<{width}}  REMAINING_S  OFFENCES", file=out)
    for client, remaining, count in sorted(rows, key=lambda row: -row[1]):
        print(f"{client:<{width}}  {remaining:>11.1f}  {count:>8}", file=out)
    return 0


def lift_ban(redis: Redis, keys: KeySpace, address: str, *, out: TextIO) -> int:
    """Delete the ban, reputation, offence count and failure log of an address."""
    client = client_key(address)
    removed = redis.delete(keys.ban(client))
    redis.delete(keys.reputation(client), keys.offences(client), keys.address_failures(client))
    state = "Lifted the ban on" if removed else "No active ban on"
    print(f"{state} {client}; its reputation and counts are reset.", file=out)
    return 0


def allow_address(redis: Redis, keys: KeySpace, address: str, days: float, *, out: TextIO) -> int:
    """Exempt an address from every check for ``days`` days and lift any ban."""
    if not 0 < days <= 3650:
        raise ValueError(f"invalid --days {days:g}: expected a number above 0 and up to 3650")
    client = client_key(address)
    redis.set(keys.allow(client), "1", px=round(days * 86_400_000))
    lift_ban(redis, keys, client.split("/", 1)[0], out=out)
    print(f"Allowed {client} for {days:g} days.", file=out)
    return 0
