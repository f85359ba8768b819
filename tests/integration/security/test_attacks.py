"""Attack scenarios: brute force, bots, account hammering, spoofed headers."""

from __future__ import annotations

import asyncio
import ipaddress

from redis.asyncio import Redis
from security_helpers import PASSWORD, VICTIM_EMAIL, call, login, make_middleware

from otel_flux.settings import parse_cidr_list

ATTACKERS = [f"198.51.100.{i}" for i in range(1, 51)]


async def test_brute_force_bans_each_attacker(redis: Redis) -> None:
    """50 addresses failing logins at 10/s: attempts after the 5th are blocked, all banned."""
    app, _ = make_middleware(redis)
    statuses: dict[str, list[int]] = {address: [] for address in ATTACKERS}

    async def attempt(address: str, round_number: int) -> None:
        # Distinct accounts per attempt, so only the per-address rule applies here;
        # account locking has its own tests.
        email = f"user{round_number}-{address}@example.com"
        response = await login(app, address, email, "guess")
        statuses[address].append(response.status)

    for round_number in range(10):
        await asyncio.gather(*(attempt(address, round_number) for address in ATTACKERS))
        await asyncio.sleep(0.1)

    for address in ATTACKERS:
        assert statuses[address][:5] == [401] * 5, address
        assert statuses[address][5:] == [403] * 5, address
        assert await redis.pttl(f"flux:sec:ban:{address}") > 0, address
        assert await redis.hget(f"flux:sec:rep:{address}", "s") == b"0", address


async def test_bots_rate_limited_then_banned(redis: Redis) -> None:
    """100 bots over the route limit get 429 first, then 403 once banned."""
    # 21 points per violation: the fifth takes a score of 100 below 0 even with the
    # recovery gained while the test runs.
    app, inner = make_middleware(redis, rate_limit=5, rate_limit_penalty=21)
    bots = [str(ipaddress.ip_address("192.0.2.0") + i) for i in range(100)]
    bots[-1] = "2001:db8:0:1::7"

    async def run_bot(address: str) -> list[int]:
        return [(await call(app, client=address)).status for _ in range(15)]

    results = await asyncio.gather(*(run_bot(address) for address in bots))

    assert inner.calls == 5 * len(bots)
    for address, statuses in zip(bots, results, strict=True):
        assert statuses[:5] == [200] * 5, address
        assert statuses[5:9] == [429] * 4, address
        assert statuses[9:] == [403] * 6, address
    assert await redis.exists("flux:sec:ban:2001:db8:0:1::/64") == 1


async def test_owner_logs_in_while_attacked(redis: Redis) -> None:
    """The owner logs in from a clean address while an attacker hammers the account."""
    app, _ = make_middleware(redis, brute_force_threshold=5)
    attacker_statuses = [
        (await login(app, "198.51.100.200", VICTIM_EMAIL, f"guess{i}")).status for i in range(20)
    ]
    second_attacker_statuses = [
        (await login(app, "198.51.100.201", VICTIM_EMAIL, "guess")).status for _ in range(2)
    ]

    owner = await login(app, "203.0.113.77", VICTIM_EMAIL, PASSWORD)

    assert attacker_statuses[:5] == [401] * 5
    assert set(attacker_statuses[5:]) == {403}
    # A clean address gets one guess at a locked account, then it is locked out.
    assert second_attacker_statuses == [401, 429]
    assert owner.status == 200


async def test_unknown_user_like_wrong_password(redis: Redis) -> None:
    """An unknown user and a wrong password get the same status and body."""
    app, _ = make_middleware(redis)

    unknown = await login(app, "203.0.113.1", "nobody@example.com", "guess")
    wrong = await login(app, "203.0.113.2", VICTIM_EMAIL, "guess")

    assert unknown.status == wrong.status
    assert unknown.body == wrong.body


async def test_account_lock_body_matches_address_block(redis: Redis) -> None:
    """A locked account and a blocked address get the same body."""
    app, _ = make_middleware(redis, brute_force_threshold=2, ban_base=0.001)
    for _ in range(2):
        await login(app, "198.51.100.1", VICTIM_EMAIL, "guess")
    await asyncio.sleep(0.01)  # the 1 ms ban ends; the address stays over the threshold
    await login(app, "198.51.100.2", VICTIM_EMAIL, "guess")

    address_blocked = await login(app, "198.51.100.1", "other@example.com", "guess")
    account_locked = await login(app, "198.51.100.2", VICTIM_EMAIL, "guess")

    assert address_blocked.status == 429
    assert account_locked.status == 429
    assert address_blocked.body == account_locked.body


async def test_spoofed_forwarded_for_ignored(redis: Redis) -> None:
    """X-Forwarded-For from an untrusted peer does not change the client identity."""
    app, _ = make_middleware(redis, rate_limit=3, trusted_proxies=parse_cidr_list("10.0.0.0/8"))
    statuses = []
    for i in range(6):
        headers = [(b"x-forwarded-for", f"192.0.2.{i}".encode())]
        statuses.append((await call(app, client="203.0.113.9", headers=headers)).status)

    assert statuses == [200, 200, 200, 429, 429, 429]


async def test_trusted_proxy_forwarded_for_used(redis: Redis) -> None:
    """Behind a trusted proxy each forwarded client has its own limit."""
    app, _ = make_middleware(redis, rate_limit=1, trusted_proxies=parse_cidr_list("10.0.0.0/8"))
    statuses = []
    for i in range(3):
        headers = [(b"x-forwarded-for", f"192.0.2.{i}, 10.0.0.2".encode())]
        statuses.append((await call(app, client="10.0.0.1", headers=headers)).status)

    assert statuses == [200, 200, 200]


async def test_allowlisted_address_skips_checks(redis: Redis) -> None:
    """An address on the allowlist setting is never limited and never calls Redis."""
    app, _ = make_middleware(redis, rate_limit=1, allowlist=parse_cidr_list("203.0.113.0/24"))

    statuses = [(await call(app)).status for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert await redis.dbsize() == 0


async def test_allow_key_skips_checks(redis: Redis) -> None:
    """An address allowed in Redis is not limited, even on login."""
    app, _ = make_middleware(redis, brute_force_threshold=1)
    await redis.set("flux:sec:allow:203.0.113.10", "1", px=60000)

    statuses = [(await login(app, "203.0.113.10", VICTIM_EMAIL, "x")).status for _ in range(3)]

    assert statuses == [401, 401, 401]
    assert await redis.exists("flux:sec:ban:203.0.113.10") == 0
