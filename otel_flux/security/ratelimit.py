"""Rate limits: the two window kinds, their arithmetic and the response headers.

The windows themselves run in Redis (``lua/ratelimit.lua``), on Redis time:

* ``log``: an exact sliding log, one sorted-set entry per admitted hit. It costs
  memory per hit, so it is used for small limits such as login.
* ``counter``: a sliding-window counter that stores two counts per client. The
  previous fixed window's count is weighted by the share of it that still
  overlaps the sliding window. It is exact while the previous window is empty
  and otherwise assumes the previous window's hits were spread evenly.

A rejected hit is not stored, so hammering a limit never extends its window.
The functions below repeat the counter arithmetic of the Lua script so the
property tests can check it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

WindowKind = Literal["log", "counter"]


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """A limit of ``limit`` hits per sliding ``window`` seconds."""

    name: str
    kind: WindowKind
    limit: int
    window: float

    @property
    def window_ms(self) -> int:
        return max(1, round(self.window * 1000))

    def policy_header(self) -> str:
        """Return the ``RateLimit-Policy`` value, e.g. ``"login";q=10;w=60``."""
        return f'"{self.name}";q={self.limit};w={_whole_seconds(self.window_ms)}'

    def state_header(self, remaining: int, reset_after_ms: int) -> str:
        """Return the ``RateLimit`` value, e.g. ``"login";r=3;t=42``."""
        return f'"{self.name}";r={max(0, remaining)};t={_whole_seconds(reset_after_ms)}'


def _whole_seconds(ms: float) -> int:
    return max(0, math.ceil(ms / 1000))


def retry_after_seconds(retry_after_ms: float) -> int:
    """Return the ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(retry_after_ms / 1000))


def counter_estimate(window_ms: float, elapsed_ms: float, previous: int, current: int) -> float:
    """Return the sliding-window estimate of hits ``elapsed_ms`` into the current window."""
    return previous * (window_ms - elapsed_ms) / window_ms + current


def counter_admits(
    limit: int, window_ms: float, elapsed_ms: float, previous: int, current: int
) -> bool:
    """Return whether the counter admits one more hit."""
    return counter_estimate(window_ms, elapsed_ms, previous, current) + 1 <= limit


def counter_retry_after(
    limit: int, window_ms: float, elapsed_ms: float, previous: int, current: int
) -> int:
    """Return milliseconds until a rejected hit would be admitted.

    Within the current window the estimate falls as the previous window slides
    out. If the current count alone is at the limit, the hit has to wait for the
    next window, in which the current count becomes the previous one.
    """
    if current + 1 <= limit:
        admitted_at = window_ms - (limit - 1 - current) * window_ms / previous
        return max(1, math.ceil(admitted_at - elapsed_ms))
    admitted_at = window_ms - (limit - 1) * window_ms / current
    return max(1, math.ceil(window_ms - elapsed_ms + admitted_at))
