"""Bucket edges: thresholds on edges, geometric spacing, explicit overrides."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_flux.metrics.buckets import bucket_edges, geometric_grid, round_significant


def test_threshold_is_an_edge() -> None:
    edges = bucket_edges(0.001, 30.0, 1.5, required=(1.0,))

    assert 1.0 in edges


def test_edges_strictly_increase() -> None:
    edges = bucket_edges(0.001, 30.0, 1.5, required=(0.05, 1.0))

    assert all(b > a for a, b in itertools.pairwise(edges))


def test_grid_spans_the_range() -> None:
    edges = bucket_edges(0.001, 30.0, 1.5, required=(1.0,))

    assert edges[0] < 0.0015
    assert edges[-1] > 30.0 / 1.5


def test_explicit_edges_keep_thresholds() -> None:
    edges = bucket_edges(0.001, 30.0, 1.5, required=(0.25,), explicit=(0.1, 0.5))

    assert edges == (0.1, 0.25, 0.5)


def test_nonpositive_required_edge_rejected() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        bucket_edges(0.001, 30.0, 1.5, required=(0.0,))


def test_inverted_range_rejected() -> None:
    with pytest.raises(ValueError, match="minimum < maximum"):
        geometric_grid(1.0, 0.5, 1.5, anchor=1.0)


def test_round_significant_keeps_three_digits() -> None:
    assert round_significant(0.0123456) == 0.0123


@given(
    threshold=st.floats(min_value=0.0001, max_value=20.0),
    growth=st.floats(min_value=1.05, max_value=4.0),
)
def test_neighbour_ratio_bounded(threshold: float, growth: float) -> None:
    """No bucket near a threshold is wider than growth**1.25 or a sliver."""
    edges = bucket_edges(0.00005, 30.0, growth, required=(threshold,))
    ratios = [b / a for a, b in itertools.pairwise(edges)]

    assert threshold in edges
    assert max(ratios) <= growth**1.25 * 1.01
    assert min(ratios) >= growth**0.25 / 1.01 or len(edges) < 2
