"""Quantile sketch: relative error against exact percentiles, bounds, merge, memory."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_flux.metrics.sketch import (
    MAX_VALUE,
    MIN_VALUE,
    QuantileSketch,
    nearest_rank_index,
)

# Durations from 1 microsecond to 1 hour, the range a service sees.
durations = st.floats(min_value=1e-6, max_value=3600.0, allow_nan=False)
samples = st.lists(durations, min_size=1, max_size=400)
quantiles = st.floats(min_value=0.0, max_value=1.0)


def _exact(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[nearest_rank_index(quantile, len(ordered))]


def _sketch(values: list[float], accuracy: float = 0.01) -> QuantileSketch:
    sketch = QuantileSketch(accuracy)
    for value in values:
        sketch.add(value)
    return sketch


@given(values=samples, quantile=quantiles)
def test_within_relative_accuracy(values: list[float], quantile: float) -> None:
    """The estimate is within 1% of the exact sample of the same rank."""
    estimate = _sketch(values).quantile(quantile)
    exact = _exact(values, quantile)

    assert estimate is not None
    assert abs(estimate - exact) <= 0.01 * exact * (1 + 1e-9)


@given(values=samples, low=quantiles, high=quantiles)
def test_monotonic_in_quantile(values: list[float], low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    sketch = _sketch(values)
    low_estimate = sketch.quantile(low)
    high_estimate = sketch.quantile(high)

    assert low_estimate is not None
    assert high_estimate is not None
    assert low_estimate <= high_estimate


@given(values=samples, quantile=quantiles)
def test_within_min_and_max(values: list[float], quantile: float) -> None:
    estimate = _sketch(values).quantile(quantile)

    assert estimate is not None
    assert min(values) <= estimate
    assert estimate <= max(values)


@given(left=samples, right=samples, quantile=quantiles)
def test_merge_equals_single_sketch(left: list[float], right: list[float], quantile: float) -> None:
    merged = _sketch(left)
    merged.merge(_sketch(right).freeze())

    assert merged.quantile(quantile) == _sketch(left + right).quantile(quantile)


@settings(max_examples=25)
@given(accuracy=st.floats(min_value=0.001, max_value=0.05), seed=st.integers(0, 2**32))
def test_stated_accuracy_holds_for_any_setting(accuracy: float, seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(-4, 1.5) for _ in range(2000)]
    sketch = _sketch(values, accuracy)

    for quantile in (0.5, 0.95, 0.99):
        estimate = sketch.quantile(quantile)
        exact = _exact(values, quantile)
        assert estimate is not None
        assert abs(estimate - exact) <= accuracy * exact * (1 + 1e-9)


def test_memory_independent_of_count() -> None:
    """A million samples over 1 ms..10 s use no more buckets than the range allows."""
    rng = random.Random(7)
    sketch = QuantileSketch(0.01)
    for _ in range(200_000):
        sketch.add(10 ** rng.uniform(-3, 1))
    bound = math.log(1e4) / math.log(1.01 / 0.99) + 2

    assert sketch.bucket_count <= bound


def test_bucket_bound_over_whole_range() -> None:
    sketch = QuantileSketch(0.01)
    for value in (0.0, MIN_VALUE, MAX_VALUE, MAX_VALUE * 10):
        sketch.add(value)

    assert sketch.bucket_count == 2


def test_empty_sketch_has_no_quantile() -> None:
    assert QuantileSketch().quantile(0.5) is None


def test_nan_ignored() -> None:
    sketch = _sketch([1.0])
    sketch.add(math.nan)

    assert sketch.count == 1


def test_quantile_out_of_range_rejected() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        _sketch([1.0]).quantile(1.5)


def test_accuracy_out_of_range_rejected() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        QuantileSketch(1.0)


def test_merge_of_different_accuracy_rejected() -> None:
    with pytest.raises(ValueError, match="different relative accuracy"):
        _sketch([1.0], 0.01).merge(_sketch([1.0], 0.02))
