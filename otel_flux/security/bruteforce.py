"""Brute-force detection: failed logins per account and per address, and bans.

Failed logins are logged twice in Redis, under the client address and under the
account. The account key is an HMAC of the normalised identifier, so neither
Redis nor telemetry ever contains the raw email. The HMAC key comes from
``FLUX_SECURITY_HMAC_KEY``. Without it each process draws a random key, and
instances then keep separate account counters.

How the two counts combine, so that an attacker hammering an account cannot lock
its owner out:

* An address with ``threshold`` failures in the window is blocked from the login
  routes, and the failure that reaches the threshold bans it from every route.
* An account with ``threshold`` failures in the window is locked only for
  addresses whose reputation is below ``FLUX_SECURITY_ACCOUNT_LOCK_MIN_REPUTATION``
  (100 by default, which means any failed login or rate-limit hit in the recent
  past). The owner logging in from a clean address still gets through. An
  attacker who rotates addresses gets one guess per clean address, after which
  that address's reputation is below 100.

Ban lengths double with each offence remembered within
``FLUX_SECURITY_OFFENCE_MEMORY_S``, grow by a random jitter of up to
``FLUX_SECURITY_BAN_JITTER`` so banned clients do not all return at once, and
never exceed ``FLUX_SECURITY_BAN_MAX_S``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets

_logger = logging.getLogger(__name__)


class AccountHasher:
    """Turns login identifiers into key material with a keyed HMAC-SHA256."""

    def __init__(self, key: bytes | None) -> None:
        if key is None:
            _logger.warning(
                "FLUX_SECURITY_HMAC_KEY is unset, so this process uses a random key; "
                "instances then count failed logins per account separately. Set the "
                "same FLUX_SECURITY_HMAC_KEY on every instance to share the counts."
            )
            key = secrets.token_bytes(32)
        self._key = key

    def account_id(self, identifier: str) -> str:
        """Return the hex HMAC of the identifier, trimmed and case-folded."""
        normalised = identifier.strip().casefold().encode("utf-8", "surrogatepass")
        return hmac.new(self._key, normalised, hashlib.sha256).hexdigest()

    def address_tag(self, key: str) -> str:
        """Return a short keyed hash of a client key, safe to put in telemetry."""
        digest = hmac.new(self._key, b"address:" + key.encode(), hashlib.sha256)
        return digest.hexdigest()[:16]


def ban_length_ms(offences: int, base_ms: float, max_ms: float, jitter: float) -> int:
    """Return the length of the ban for the ``offences``-th offence.

    ``jitter`` is the drawn fraction (0 to the configured maximum) by which the
    doubled length grows. The result is at least 1 ms and at most ``max_ms``.
    This is the arithmetic of ``ban`` in ``lua/common.lua``.
    """
    length = base_ms * 2.0 ** min(offences - 1, 64) * (1 + jitter)
    return max(1, math.floor(min(length, max_ms)))
