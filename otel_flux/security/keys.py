"""Names of the Redis keys the security checks use.

A client key is its IPv4 address or IPv6 /64 as text, so the ``security bans``
command can show which address is banned. Accounts appear only as an HMAC of
their identifier. Every key is written with a TTL.

NOTE: one script call touches keys of several clients and accounts, which do not
share a hash slot, so Redis Cluster is not supported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeySpace:
    """Builds key names under one prefix."""

    prefix: str

    def allow(self, client: str) -> str:
        return f"{self.prefix}allow:{client}"

    def ban(self, client: str) -> str:
        return f"{self.prefix}ban:{client}"

    def reputation(self, client: str) -> str:
        return f"{self.prefix}rep:{client}"

    def offences(self, client: str) -> str:
        return f"{self.prefix}offences:{client}"

    def rate_limit(self, policy: str, client: str) -> str:
        return f"{self.prefix}rl:{policy}:{client}"

    def address_failures(self, client: str) -> str:
        return f"{self.prefix}fail:addr:{client}"

    def account_failures(self, account_id: str | None) -> str:
        # The check script takes a fixed number of keys; with no account it gets
        # this name and does not touch it.
        return f"{self.prefix}fail:acct:{account_id or '-'}"

    def client_of(self, key: str, kind: str) -> str:
        """Return the client part of a key built by the method named ``kind``."""
        return key.removeprefix(f"{self.prefix}{kind}:")
