"""IP reputation: a score from 0 to 100 per client address, kept in Redis.

An address starts at 100. It loses points for each failed login and each
rate-limited request, drops to 0 when banned, and regains points linearly over
time up to 100. An address whose score reaches 0 is banned. The score is stored
with the time it was computed and the recovery is applied on read
(``lua/common.lua``). The stored hash expires when the score would be back at
100, so a recovered address has no key.

:func:`recovered_score` repeats that arithmetic for the property tests and the
``security bans`` command.
"""

from __future__ import annotations

import math

MAX_SCORE = 100


def recovered_score(
    stored: float, stored_at_ms: float, now_ms: float, recovery_per_minute: float
) -> float:
    """Return the score ``stored`` at ``stored_at_ms`` after recovering until ``now_ms``."""
    elapsed = max(0.0, now_ms - stored_at_ms)
    return min(float(MAX_SCORE), stored + elapsed * recovery_per_ms(recovery_per_minute))


def recovery_per_ms(recovery_per_minute: float) -> float:
    """Return the recovery rate in points per millisecond."""
    return recovery_per_minute / 60000.0


def expiry_ms(score: float, recovery_per_minute: float) -> int:
    """Return the lifetime of a stored score: until it recovers, plus one second."""
    return math.ceil((MAX_SCORE - score) / recovery_per_ms(recovery_per_minute)) + 1000
