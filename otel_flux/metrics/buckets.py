"""Histogram bucket edges: a pure function of the range, the growth ratio and the thresholds.

The Views, the Prometheus rule tests and the percentile benchmark all call
:func:`bucket_edges`, so Prometheus receives the same edges the tests use.

Every alert threshold is an edge. A histogram bucket ``le="T"`` counts exactly
the observations at or below ``T``, so ``histogram_quantile(0.99, ...) > T``
holds exactly when more than 1% of the observations are above ``T``: the
interpolation inside a bucket never moves a quantile across one of its edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# Edges are rounded to this many significant digits so the ``le`` labels stay readable.
_SIGNIFICANT_DIGITS = 3


def round_significant(value: float, digits: int = _SIGNIFICANT_DIGITS) -> float:
    """Round a positive number to ``digits`` significant digits."""
    if value <= 0:
        raise ValueError(f"bucket edge {value} must be positive")
    exponent = math.floor(math.log10(value))
    return round(value, digits - 1 - exponent)


def geometric_grid(minimum: float, maximum: float, growth: float, anchor: float) -> list[float]:
    """Return edges ``anchor * growth**k`` that lie within [minimum, maximum].

    The anchor is on the grid even when it lies outside the range, so a threshold
    never sits next to a sliver of a bucket.
    """
    if not 0 < minimum < maximum:
        raise ValueError(f"bucket range [{minimum}, {maximum}] must satisfy 0 < minimum < maximum")
    if growth <= 1:
        raise ValueError(f"bucket growth {growth} must be above 1")
    if anchor <= 0:
        raise ValueError(f"bucket anchor {anchor} must be positive")

    low = math.ceil(math.log(minimum / anchor) / math.log(growth) - 1e-9)
    high = math.floor(math.log(maximum / anchor) / math.log(growth) + 1e-9)
    return [anchor * growth**k for k in range(low, high + 1)]


def bucket_edges(
    minimum: float,
    maximum: float,
    growth: float,
    required: Iterable[float] = (),
    explicit: Iterable[float] | None = None,
) -> tuple[float, ...]:
    """Compute the sorted bucket edges of one duration histogram.

    Without ``explicit`` the edges form a geometric grid from ``minimum`` to
    ``maximum`` through the first required edge (or through ``minimum``). Grid
    edges closer than a factor ``growth**0.25`` to another required edge are
    dropped, so no bucket becomes a sliver. With ``explicit`` those edges are
    used as given. Required edges (the alert thresholds) are always present,
    unrounded.
    """
    required_edges = sorted({float(edge) for edge in required})
    for edge in required_edges:
        if edge <= 0:
            raise ValueError(f"required bucket edge {edge} must be positive")

    if explicit is not None:
        candidates = [float(edge) for edge in explicit]
    else:
        anchor = required_edges[0] if required_edges else minimum
        grid = geometric_grid(minimum, maximum, growth, anchor)
        candidates = [round_significant(edge) for edge in grid]
        closeness = growth**0.25
        candidates = [
            edge
            for edge in candidates
            if not any(
                max(edge, r) / min(edge, r) < closeness and edge != r for r in required_edges
            )
        ]

    return tuple(sorted(set(candidates) | set(required_edges)))
