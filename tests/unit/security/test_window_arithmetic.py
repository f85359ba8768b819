"""Property tests of the window, reputation and ban arithmetic the Lua scripts share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otel_flux.security.bruteforce import ban_length_ms
from otel_flux.security.ratelimit import (
    RateLimitPolicy,
    counter_admits,
    counter_estimate,
    counter_retry_after,
    retry_after_seconds,
)
from otel_flux.security.reputation import expiry_ms, recovered_score

limits = st.integers(min_value=1, max_value=10_000)
windows = st.integers(min_value=1, max_value=86_400_000)


@st.composite
def counter_states(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    limit = draw(limits)
    window = draw(windows)
    elapsed = draw(st.integers(min_value=0, max_value=window))
    previous = draw(st.integers(min_value=0, max_value=limit))
    current = draw(st.integers(min_value=0, max_value=limit))
    return limit, window, elapsed, previous, current


@given(counter_states())
def test_estimate_between_current_and_total(state: tuple[int, int, int, int, int]) -> None:
    """The estimate lies between the current count and both counts together."""
    _, window, elapsed, previous, current = state

    estimate = counter_estimate(window, elapsed, previous, current)

    assert current <= estimate
    assert estimate <= previous + current


@given(counter_states())
def test_estimate_exact_without_previous(state: tuple[int, int, int, int, int]) -> None:
    """With an empty previous window the estimate is the exact current count."""
    _, window, elapsed, _, current = state

    assert counter_estimate(window, elapsed, 0, current) == current


@given(counter_states())
def test_retry_after_admits_then(state: tuple[int, int, int, int, int]) -> None:
    """A rejected hit is admitted once retry_after has passed, and not 2 ms earlier."""
    limit, window, elapsed, previous, current = state
    if counter_admits(limit, window, elapsed, previous, current):
        return

    retry = counter_retry_after(limit, window, elapsed, previous, current)
    at = elapsed + retry
    if at <= window:
        admitted = counter_admits(limit, window, at, previous, current)
        early = counter_admits(limit, window, max(elapsed, at - 2), previous, current)
    else:
        admitted = counter_admits(limit, window, at - window, current, 0)
        early_at = at - 2 - window
        early = (
            counter_admits(limit, window, early_at, current, 0)
            if early_at >= 0
            else counter_admits(limit, window, at - 2, previous, current)
        )

    assert retry >= 1
    assert retry <= 2 * window
    assert admitted
    assert not early or retry <= 2


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_retry_after_seconds_rounds_up(milliseconds: float) -> None:
    """Retry-After is whole seconds, never shorter than the wait and at least 1."""
    seconds = retry_after_seconds(milliseconds)

    assert seconds >= 1
    assert seconds * 1000 >= milliseconds
    assert (seconds - 1) * 1000 < max(milliseconds, 1)


@given(limits, st.floats(min_value=0.001, max_value=86400))
def test_policy_header_names_quota_and_window(limit: int, window: float) -> None:
    """RateLimit-Policy carries the limit and a window of at least the setting."""
    policy = RateLimitPolicy("default", "counter", limit, window)

    header = policy.policy_header()

    name, quota, seconds = header.split(";")
    assert name == '"default"'
    assert quota == f"q={limit}"
    assert int(seconds.removeprefix("w=")) * 1000 >= policy.window_ms


@given(
    st.integers(min_value=1, max_value=200),
    st.floats(min_value=1, max_value=1e7),
    st.floats(min_value=1, max_value=1e9),
    st.floats(min_value=0, max_value=1),
)
def test_ban_length_bounded(offences: int, base: float, cap: float, jitter: float) -> None:
    """A ban lasts at least the base (unless capped lower) and at most the cap."""
    length = ban_length_ms(offences, base, cap, jitter)

    assert length <= max(cap, 1)
    assert length >= min(base, cap) - 1


@given(st.integers(min_value=1, max_value=40), st.floats(min_value=1, max_value=1e6))
def test_ban_length_grows_with_offences(offences: int, base: float) -> None:
    """Without a cap in reach, each offence doubles the ban."""
    cap = float("inf")

    first = ban_length_ms(offences, base, cap, 0.0)
    second = ban_length_ms(offences + 1, base, cap, 0.0)

    assert second >= 2 * first


@given(
    st.floats(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**9),
    st.floats(min_value=0.001, max_value=6000),
)
def test_reputation_recovers_monotonically(
    score: float, stored_at: int, elapsed: int, rate: float
) -> None:
    """Reputation never falls while time passes and never exceeds 100."""
    earlier = recovered_score(score, stored_at, stored_at + elapsed, rate)
    later = recovered_score(score, stored_at, stored_at + elapsed + 1000, rate)

    assert score <= earlier <= later <= 100


@given(st.floats(min_value=0, max_value=99.999), st.floats(min_value=0.001, max_value=6000))
def test_reputation_expires_after_recovery(score: float, rate: float) -> None:
    """A stored score expires only once it has recovered to 100."""
    lifetime = expiry_ms(score, rate)

    assert recovered_score(score, 0, lifetime, rate) == 100
