"""The Redis side of the checks: one call before the handler, one per failed login.

Every call is bounded by ``FLUX_SECURITY_REDIS_TIMEOUT_MS``, connecting
included. After a failed call the store skips Redis for
``FLUX_SECURITY_REDIS_RETRY_INTERVAL_S`` and raises :class:`RedisUnavailable`
at once, so an outage costs each request nothing beyond the first timeout.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from otel_flux.security import scripts
from otel_flux.security.config import SecurityConfig
from otel_flux.security.keys import KeySpace
from otel_flux.security.ratelimit import RateLimitPolicy
from otel_flux.security.reputation import recovery_per_ms

_logger = logging.getLogger(__name__)


class RedisUnavailable(Exception):
    """A Redis call failed, timed out, or was skipped during an outage."""


class Decision(enum.IntEnum):
    """Outcome codes returned by ``lua/check.lua``."""

    ALLOW = 0
    ALLOWLISTED = 1
    BANNED = 2
    ADDRESS_BLOCKED = 3
    ACCOUNT_LOCKED = 4
    RATE_LIMITED = 5
    RATE_LIMITED_AND_BANNED = 6


@dataclass(frozen=True, slots=True)
class Verdict:
    """Result of the checks made before the handler; times in milliseconds."""

    decision: Decision
    policy: RateLimitPolicy
    retry_after_ms: int = 0
    remaining: int = 0
    reset_after_ms: int = 0
    reputation: int = 100
    address_failures: int = 0
    account_failures: int = 0
    ban_ms: int = 0


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Counts after a failed login was recorded; ``ban_ms`` is 0 without a new ban."""

    address_failures: int
    account_failures: int
    reputation: int
    ban_ms: int


class SecurityStore:
    """Runs the security scripts against Redis with a timeout and outage back-off."""

    def __init__(
        self,
        redis: Redis,
        config: SecurityConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._config = config
        self._keys = KeySpace(config.key_prefix)
        self._clock = clock
        self._timeout = config.redis_timeout_ms / 1000
        self._skip_until = float("-inf")
        self._failing = False
        # Unique sorted-set members: a per-process random prefix and a counter.
        self._member_prefix = secrets.token_hex(8)
        self._members = itertools.count()
        self._recovery = repr(recovery_per_ms(config.reputation_recovery_per_minute))
        self._bf_window_ms = str(max(1, round(config.brute_force_window * 1000)))
        self._ban_args = (
            str(max(1, round(config.ban_base * 1000))),
            str(max(1, round(config.ban_max * 1000))),
        )
        self._offence_ttl_ms = str(max(1, round(config.offence_memory * 1000)))

    @property
    def keys(self) -> KeySpace:
        return self._keys

    async def check(
        self, client: str, policy: RateLimitPolicy, login: bool, account_id: str | None
    ) -> Verdict:
        """Run every pre-handler check in one EVALSHA."""
        config, keys = self._config, self._keys
        key_names = (
            keys.allow(client),
            keys.ban(client),
            keys.reputation(client),
            keys.offences(client),
            keys.rate_limit(policy.name, client),
            keys.address_failures(client),
            keys.account_failures(account_id),
        )
        args = (
            policy.kind,
            policy.limit,
            policy.window_ms,
            self._member(),
            "1" if login else "0",
            "1" if account_id else "0",
            config.brute_force_threshold,
            self._bf_window_ms,
            self._recovery,
            config.rate_limit_penalty,
            config.account_lock_min_reputation,
            *self._ban_args,
            self._jitter(),
            self._offence_ttl_ms,
        )
        reply = await self._run(scripts.CHECK, key_names, args)
        return Verdict(Decision(int(reply[0])), policy, *(int(value) for value in reply[1:]))

    async def record_failure(self, client: str, account_id: str | None) -> FailureRecord:
        """Record a failed login for the address and, when known, the account."""
        config, keys = self._config, self._keys
        key_names = (
            keys.address_failures(client),
            keys.account_failures(account_id),
            keys.reputation(client),
            keys.ban(client),
            keys.offences(client),
        )
        args = (
            self._member(),
            "1" if account_id else "0",
            config.brute_force_threshold,
            self._bf_window_ms,
            self._recovery,
            config.failed_login_penalty,
            *self._ban_args,
            self._jitter(),
            self._offence_ttl_ms,
        )
        reply = await self._run(scripts.RECORD_FAILURE, key_names, args)
        return FailureRecord(*(int(value) for value in reply))

    def _member(self) -> str:
        return f"{self._member_prefix}:{next(self._members)}"

    def _jitter(self) -> str:
        # Spreading ban ends needs no cryptographic randomness.
        return repr(random.random() * self._config.ban_jitter)  # noqa: S311

    async def _run(
        self, script: scripts.LuaScript, key_names: Sequence[str], args: Sequence[Any]
    ) -> Any:
        if self._clock() < self._skip_until:
            raise RedisUnavailable("skipped during a Redis outage")
        try:
            async with asyncio.timeout(self._timeout):
                reply = await script.run(self._redis, key_names, args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._skip_until = self._clock() + self._config.redis_retry_interval
            if not self._failing:
                self._failing = True
                _logger.warning(
                    "security checks cannot reach Redis (%s); applying the "
                    "FLUX_SECURITY_ON_REDIS_ERROR and FLUX_SECURITY_LOGIN_ON_REDIS_ERROR "
                    "policies and retrying in %.1f s",
                    _describe(exc, self._config.redis_timeout_ms),
                    self._config.redis_retry_interval,
                )
            raise RedisUnavailable(_describe(exc, self._config.redis_timeout_ms)) from exc
        if self._failing:
            self._failing = False
            _logger.info("security checks reach Redis again")
        return reply


def _describe(exc: BaseException, timeout_ms: float) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no reply within {timeout_ms:g} ms"
    return f"{type(exc).__name__}: {exc}"
