"""Demo users of the sample service, stored in Redis with scrypt password hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

# Users created at start-up; load scenarios and the local stack log in as them.
DEMO_USERS = {
    "alice@example.com": "wonderland-42",
    "bob@example.com": "builder-42",
    "carol@example.com": "caroling-42",
}

_KEY_PREFIX = "flux:demo:user:"
_SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class PasswordHasher:
    """scrypt with r=8, p=1 and N=2**cost."""

    cost: int

    def hash(self, password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=2**self.cost,
            r=8,
            p=1,
            # scrypt needs 128 * r * N bytes; allow that plus 1 MiB.
            maxmem=128 * 8 * 2**self.cost + 2**20,
        )


def user_key(email: str) -> str:
    """Return the Redis key of a user; the raw address never appears in a key name."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return _KEY_PREFIX + digest


async def create_user(redis: Redis, hasher: PasswordHasher, email: str, password: str) -> None:
    salt = secrets.token_bytes(_SALT_BYTES)
    await redis.hset(
        user_key(email),
        mapping={
            "salt": salt.hex(),
            "hash": hasher.hash(password, salt).hex(),
            "cost": hasher.cost,
        },
    )


# A fixed salt and hash compared against when the user does not exist, so an
# unknown user costs the same scrypt work as a wrong password.
_DUMMY_SALT = b"\x00" * _SALT_BYTES


def verify(hasher: PasswordHasher, password: str, record: dict[Any, Any] | None) -> bool:
    """Check a password against a stored record, in time independent of whether it exists."""
    if record and b"salt" in record and b"hash" in record:
        salt = bytes.fromhex(record[b"salt"].decode())
        expected = bytes.fromhex(record[b"hash"].decode())
        cost = int(record.get(b"cost", str(hasher.cost).encode()))
        return hmac.compare_digest(PasswordHasher(cost).hash(password, salt), expected)
    hasher.hash(password, _DUMMY_SALT)
    return False
