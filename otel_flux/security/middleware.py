"""The ASGI middleware that runs the security checks around any application.

Per HTTP request, in order:

1. Resolve the client identity (``client.py``) and skip everything for an
   allowlisted address.
2. On a login route, read the body up to ``FLUX_SECURITY_LOGIN_BODY_MAX_BYTES``,
   take the identifier for the account checks, and replay the body to the app.
3. Run the ban, reputation, brute-force and rate-limit checks in one Redis call.
4. Reject (403 banned, 429 limited, 503 when Redis fails and the policy rejects)
   or call the application, adding the ``RateLimit`` headers to its response.
5. When a login response has a failure status, record the failure before the
   response start is passed on, so the client cannot send its next attempt
   before this one counts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from otel_flux import settings
from otel_flux.security import login, responses
from otel_flux.security.bruteforce import AccountHasher
from otel_flux.security.cache import RequestCache, request_cache
from otel_flux.security.client import ClientIdentity, ClientResolver, in_networks
from otel_flux.security.config import SecurityConfig
from otel_flux.security.ratelimit import RateLimitPolicy, retry_after_seconds
from otel_flux.security.store import (
    Decision,
    RedisUnavailable,
    SecurityStore,
    Verdict,
)
from otel_flux.security.telemetry import (
    ALLOW,
    BAN,
    BLOCK,
    CHECK_BRUTE_FORCE,
    CHECK_RATE_LIMIT,
    CHECK_REPUTATION,
    ERROR,
    SecurityTelemetry,
)

_logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Per-check decisions for each outcome of the check script, in the order
# (reputation, brute force, rate limit); None means the check did not run.
_CHECK_DECISIONS: dict[Decision, tuple[str | None, str | None, str | None]] = {
    Decision.ALLOW: (ALLOW, ALLOW, ALLOW),
    Decision.ALLOWLISTED: (ALLOW, None, None),
    Decision.BANNED: (BAN, None, None),
    Decision.ADDRESS_BLOCKED: (ALLOW, BLOCK, None),
    Decision.ACCOUNT_LOCKED: (ALLOW, BLOCK, None),
    Decision.RATE_LIMITED: (ALLOW, ALLOW, BLOCK),
    Decision.RATE_LIMITED_AND_BANNED: (BAN, ALLOW, BAN),
}
_CHECKS = (CHECK_REPUTATION, CHECK_BRUTE_FORCE, CHECK_RATE_LIMIT)


class SecurityMiddleware:
    """Rate limiting, IP reputation and brute-force detection for an ASGI app.

    ``redis`` defaults to a client for ``FLUX_REDIS_URL``; ``config`` to the
    ``FLUX_SECURITY_*`` settings. ``clock`` is a monotonic clock in seconds used
    only for the back-off after a Redis failure: every window uses Redis time.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        redis: Redis | None = None,
        config: SecurityConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.config = config if config is not None else SecurityConfig.from_env()
        if redis is None:
            timeout = self.config.redis_timeout_ms / 1000
            # No client-side retries: a retry cannot finish within the timeout,
            # and the store's back-off handles outages.
            redis = Redis.from_url(
                settings.REDIS_URL.read(),
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
        self.redis = redis
        self._store = SecurityStore(redis, self.config, clock)
        self._resolver = ClientResolver(self.config.trusted_proxies)
        self._hasher = AccountHasher(self.config.hmac_key)
        self._telemetry = SecurityTelemetry()
        self._login_routes = frozenset(self.config.login_routes)
        self._general_policy = RateLimitPolicy(
            "default", "counter", self.config.rate_limit, self.config.rate_limit_window
        )
        self._login_policy = RateLimitPolicy(
            "login", "log", self.config.login_rate_limit, self.config.login_rate_limit_window
        )
        self._unavailable_retry = max(1, math.ceil(self.config.redis_retry_interval))

    async def aclose(self) -> None:
        """Close the Redis client; call it on shutdown when the middleware created it."""
        await self.redis.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = request_cache(scope)
        if cache.verdict is not None:
            await self.app(scope, receive, send)
            return

        if cache.client is None:
            cache.client = self._resolver.resolve(scope)
        client = cache.client
        if client.address is not None and in_networks(client.address, self.config.allowlist):
            cache.verdict = Verdict(Decision.ALLOWLISTED, self._general_policy)
            await self.app(scope, receive, send)
            return

        is_login = (scope.get("method"), scope.get("path")) in self._login_routes
        if is_login:
            replayed = await self._read_login(scope, receive, send, cache)
            if replayed is None:
                return
            receive = replayed

        verdict = await self._check(scope, client, cache, is_login, send)
        if verdict is None:
            return
        await self._call_app(scope, receive, send, client, cache, verdict, is_login)

    async def _read_login(
        self, scope: Scope, receive: Receive, send: Send, cache: RequestCache
    ) -> Receive | None:
        """Buffer the login body and key the account; None when a response was sent."""
        limit = self.config.login_body_max_bytes
        body = await login.read_body(scope, receive, limit)
        if body.disconnected:
            return None
        if body.too_large:
            await responses.body_too_large(send, limit)
            return None
        identifier = login.extract_identifier(scope, body.body, self.config.login_identifier_field)
        if identifier is not None:
            cache.account_id = self._hasher.account_id(identifier)
        return login.replay(body.body, receive)

    async def _check(
        self,
        scope: Scope,
        client: ClientIdentity,
        cache: RequestCache,
        is_login: bool,
        send: Send,
    ) -> Verdict | None:
        """Run the checks; send the rejection and return None if the request is rejected."""
        policy = self._login_policy if is_login else self._general_policy
        route = scope.get("path") if is_login else None
        tag = self._hasher.address_tag(client.key)
        start = time.time_ns()
        try:
            verdict = await self._store.check(client.key, policy, is_login, cache.account_id)
        except RedisUnavailable:
            end = time.time_ns()
            self._telemetry.record_duration("check", (end - start) / 1e9, "error")
            return await self._on_redis_error(cache, policy, is_login, route, tag, start, send)
        end = time.time_ns()
        self._telemetry.record_duration("check", (end - start) / 1e9, "ok")
        cache.verdict = verdict
        self._emit_checks(verdict, is_login, route, tag, start, end)
        return await self._reject_or_pass(verdict, send)

    async def _on_redis_error(
        self,
        cache: RequestCache,
        policy: RateLimitPolicy,
        is_login: bool,
        route: str | None,
        tag: str,
        start: int,
        send: Send,
    ) -> Verdict | None:
        on_error = self.config.login_on_redis_error if is_login else self.config.on_redis_error
        end = time.time_ns()
        checks = _CHECKS if is_login else (CHECK_REPUTATION, CHECK_RATE_LIMIT)
        for check in checks:
            attributes = {"security.client.hash": tag, "security.on_error": on_error}
            self._telemetry.record_check(check, ERROR, start, end, attributes)
            self._telemetry.count_decision(check, ERROR, route)
        if on_error == "reject":
            await responses.unavailable(send, self._unavailable_retry)
            return None
        cache.verdict = Verdict(Decision.ALLOW, policy, remaining=-1)
        return cache.verdict

    async def _reject_or_pass(self, verdict: Verdict, send: Send) -> Verdict | None:
        retry = retry_after_seconds(verdict.retry_after_ms)
        decision = verdict.decision
        if decision in (Decision.BANNED, Decision.RATE_LIMITED_AND_BANNED):
            await responses.banned(send, retry)
        elif decision in (Decision.ADDRESS_BLOCKED, Decision.ACCOUNT_LOCKED):
            await responses.too_many_attempts(send, retry)
        elif decision == Decision.RATE_LIMITED:
            await responses.rate_limited(send, retry, _rate_headers(verdict))
        else:
            return verdict
        return None

    def _emit_checks(
        self, verdict: Verdict, is_login: bool, route: str | None, tag: str, start: int, end: int
    ) -> None:
        decisions = _CHECK_DECISIONS[verdict.decision]
        for check, decision in zip(_CHECKS, decisions, strict=True):
            if decision is None or (check == CHECK_BRUTE_FORCE and not is_login):
                continue
            self._telemetry.record_check(
                check, decision, start, end, _check_attributes(check, verdict, tag)
            )
            # Allowed requests are counted after the handler, when the route is known.
            if verdict.decision not in (Decision.ALLOW, Decision.ALLOWLISTED):
                self._telemetry.count_decision(check, decision, route)

    async def _call_app(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        client: ClientIdentity,
        cache: RequestCache,
        verdict: Verdict,
        is_login: bool,
    ) -> None:
        extra_headers = _rate_headers(verdict) if verdict.remaining >= 0 else []
        # Allowlisted clients are never counted, failed logins included.
        records_failures = is_login and verdict.decision == Decision.ALLOW

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                if extra_headers:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", ()), *extra_headers]
                status = message.get("status")
                if records_failures and status in self.config.login_failure_statuses:
                    await self._record_failure(scope, client, cache.account_id)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if verdict.decision == Decision.ALLOW and verdict.remaining >= 0:
                route = scope.get("path") if is_login else _route_template(scope)
                checks = _CHECKS if is_login else (CHECK_REPUTATION, CHECK_RATE_LIMIT)
                self._telemetry.count_decisions(checks, ALLOW, route)

    async def _record_failure(
        self, scope: Scope, client: ClientIdentity, account_id: str | None
    ) -> None:
        tag = self._hasher.address_tag(client.key)
        route = scope.get("path")
        start = time.time_ns()
        try:
            record = await self._store.record_failure(client.key, account_id)
        except RedisUnavailable:
            end = time.time_ns()
            self._telemetry.record_duration("record", (end - start) / 1e9, "error")
            error_attributes = {"security.client.hash": tag, "security.phase": "record"}
            self._telemetry.record_check(CHECK_BRUTE_FORCE, ERROR, start, end, error_attributes)
            self._telemetry.count_decision(CHECK_BRUTE_FORCE, ERROR, route)
            return
        end = time.time_ns()
        self._telemetry.record_duration("record", (end - start) / 1e9, "ok")
        decision = BAN if record.ban_ms else ALLOW
        attributes: dict[str, Any] = {
            "security.client.hash": tag,
            "security.phase": "record",
            "security.brute_force.address_failures": record.address_failures,
            "security.brute_force.account_failures": record.account_failures,
            "security.ip_reputation.score": record.reputation,
            "security.ban.duration_ms": record.ban_ms,
        }
        self._telemetry.record_check(CHECK_BRUTE_FORCE, decision, start, end, attributes)
        if record.ban_ms:
            self._telemetry.count_decision(CHECK_BRUTE_FORCE, BAN, route)


def _rate_headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    policy = verdict.policy
    return [
        (b"ratelimit-policy", policy.policy_header().encode()),
        (b"ratelimit", policy.state_header(verdict.remaining, verdict.reset_after_ms).encode()),
    ]


def _check_attributes(check: str, verdict: Verdict, tag: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"security.client.hash": tag}
    if verdict.decision == Decision.ALLOWLISTED:
        attributes["security.allowlisted"] = True
    elif check == CHECK_REPUTATION:
        attributes["security.ip_reputation.score"] = verdict.reputation
        attributes["security.ban.duration_ms"] = verdict.ban_ms
    elif check == CHECK_BRUTE_FORCE:
        attributes["security.brute_force.address_failures"] = verdict.address_failures
        attributes["security.brute_force.account_failures"] = verdict.account_failures
    else:
        attributes["security.rate_limit.policy"] = verdict.policy.name
        attributes["security.rate_limit.limit"] = verdict.policy.limit
        attributes["security.rate_limit.remaining"] = verdict.remaining
    if verdict.retry_after_ms:
        attributes["security.retry_after_ms"] = verdict.retry_after_ms
    return attributes


def _route_template(scope: Scope) -> str | None:
    """Return the matched route template, as routers such as Starlette store it."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None
