"""A quantile sketch with a relative-error guarantee and memory independent of the count.

The sketch follows the idea of DDSketch (Masson, Rim and Lee, "DDSketch: a fast
and fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019):
a positive value ``x`` is counted in bucket ``k = ceil(log(x) / log(gamma))``
with ``gamma = (1 + a) / (1 - a)``. Every value in bucket ``k`` lies in
``(gamma**(k-1), gamma**k]``, and the estimate ``2 * gamma**k / (gamma + 1)`` is
within relative error ``a`` of each of them. A quantile query walks the buckets
to the one that contains the sample of the requested rank, so the estimate is
within ``a`` of that exact sample.

Memory: values are clamped to [MIN_VALUE, MAX_VALUE], so at most
``log(MAX_VALUE / MIN_VALUE) / log(gamma)`` buckets exist (1,727 at a = 0.01),
whatever the number of samples. Durations on a service use a few hundred.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

# Values at or below MIN_VALUE share one bucket, so below it the error is absolute,
# at most MIN_VALUE. For durations in seconds that is 1 ns, below clock resolution.
MIN_VALUE = 1e-9
# Values above MAX_VALUE (about 11.6 days in seconds) are counted in its bucket.
MAX_VALUE = 1e6

DEFAULT_RELATIVE_ACCURACY = 0.01


def nearest_rank_index(quantile: float, count: int) -> int:
    """Return the 0-based index of the sorted sample a quantile query selects.

    This is the "lower" definition: index ``floor(q * (n - 1))``. The sketch is
    within its relative accuracy of exactly that sample.
    """
    return math.floor(quantile * (count - 1))


class QuantileSketch:
    """A mergeable sketch of positive values (durations in seconds)."""

    __slots__ = ("_bins", "_log_gamma", "_multiplier", "count", "maximum", "minimum", "total")

    def __init__(self, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY) -> None:
        if not 0 < relative_accuracy < 1:
            raise ValueError(
                f"relative accuracy {relative_accuracy} must be between 0 and 1, e.g. 0.01"
            )
        gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(gamma)
        self._multiplier = 1.0 / self._log_gamma
        self._bins: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    @property
    def relative_accuracy(self) -> float:
        gamma = math.exp(self._log_gamma)
        return (gamma - 1) / (gamma + 1)

    def key(self, value: float) -> int:
        """Return the bucket of a value. All values at or below MIN_VALUE share one."""
        if value <= MIN_VALUE:
            value = MIN_VALUE
        elif value > MAX_VALUE:
            value = MAX_VALUE
        return math.ceil(math.log(value) * self._multiplier)

    def add(self, value: float) -> None:
        """Count one value. NaN is ignored, and negative values go to the MIN_VALUE bucket."""
        if value != value:
            return
        self.add_keyed(self.key(value), value)

    def add_keyed(self, key: int, value: float) -> None:
        """Count a value whose bucket the caller already computed with :meth:`key`."""
        bins = self._bins
        bins[key] = bins.get(key, 0) + 1
        self.count += 1
        self.total += value
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value

    def merge(self, other: QuantileSketch | FrozenSketch) -> None:
        """Add every value counted by another sketch of the same accuracy."""
        if other.count == 0:
            return
        if not math.isclose(other._log_gamma, self._log_gamma):
            raise ValueError("cannot merge sketches of different relative accuracy")
        bins = self._bins
        for key, count in other.items():
            bins[key] = bins.get(key, 0) + count
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def items(self) -> Iterable[tuple[int, int]]:
        return self._bins.items()

    @property
    def bucket_count(self) -> int:
        return len(self._bins)

    def quantile(self, quantile: float) -> float | None:
        """Estimate a quantile in [0, 1], or return None when the sketch is empty."""
        return _quantile(self, quantile)

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def copy(self) -> QuantileSketch:
        clone = QuantileSketch.__new__(QuantileSketch)
        clone._log_gamma = self._log_gamma
        clone._multiplier = self._multiplier
        clone._bins = dict(self._bins)
        clone.count = self.count
        clone.total = self.total
        clone.minimum = self.minimum
        clone.maximum = self.maximum
        return clone

    def freeze(self) -> FrozenSketch:
        """Return a compact read-only copy (12 bytes per bucket) for the history."""
        return FrozenSketch(self)


class FrozenSketch:
    """A read-only sketch stored as two arrays, for the intervals in the history."""

    __slots__ = ("_counts", "_keys", "_log_gamma", "count", "maximum", "minimum", "total")

    def __init__(self, sketch: QuantileSketch) -> None:
        keys = sorted(sketch._bins)
        self._keys = array("i", keys)
        self._counts = array("q", (sketch._bins[key] for key in keys))
        self._log_gamma = sketch._log_gamma
        self.count = sketch.count
        self.total = sketch.total
        self.minimum = sketch.minimum
        self.maximum = sketch.maximum

    def items(self) -> Iterable[tuple[int, int]]:
        return zip(self._keys, self._counts, strict=True)

    def quantile(self, quantile: float) -> float | None:
        return _quantile(self, quantile)

    @property
    def nbytes(self) -> int:
        """Bytes used by the bucket arrays."""
        return self._keys.itemsize * len(self._keys) + self._counts.itemsize * len(self._counts)


def _quantile(sketch: QuantileSketch | FrozenSketch, quantile: float) -> float | None:
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile {quantile} must be between 0 and 1")
    if sketch.count == 0:
        return None
    if quantile == 0:
        return sketch.minimum
    if quantile == 1:
        return sketch.maximum

    rank = nearest_rank_index(quantile, sketch.count)
    seen = 0
    selected = 0
    for key, count in sorted(sketch.items()):
        seen += count
        if seen > rank:
            selected = key
            break

    gamma = math.exp(sketch._log_gamma)
    estimate = 2 * math.exp(selected * sketch._log_gamma) / (gamma + 1)
    # The exact sample lies within [minimum, maximum], so clamping only moves the
    # estimate closer to it.
    return min(max(estimate, sketch.minimum), sketch.maximum)
