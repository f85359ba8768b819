"""Benchmark the percentile estimates: in-process sketch and Prometheus histogram_quantile.

Run from the repository root:

    PYTHONPATH=. python tests/benchmarks/bench_percentiles.py [--samples N] [--seed S]

For several latency distributions it prints, for p50, p95 and p99, the relative
error against the exact percentile of the same samples of

* the monitor's sketch (exact = the sorted sample at index floor(q * (n - 1)),
  the rank the sketch selects, and also numpy's linear interpolation);
* Prometheus's histogram_quantile over the bucket edges the Views export,
  computed as Prometheus does: linear interpolation inside the bucket that
  contains rank q * n, the lower edge of the first bucket taken as 0.

It also prints the cost of one record in microseconds and the memory per series.
This is a script, not a test: it asserts nothing and its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_flux.alerts.thresholds import Thresholds
from otel_flux.metrics.monitor import Monitor
from otel_flux.metrics.sketch import QuantileSketch, nearest_rank_index
from otel_flux.metrics.system import SystemFigures
from otel_flux.metrics.views import HTTP_SERVER_DURATION, build_views, histogram_edges

QUANTILES = (0.5, 0.95, 0.99)


def distributions(rng: np.random.Generator) -> dict[str, Callable[[int], np.ndarray]]:
    """Latency shapes in seconds."""
    return {
        "lognormal (median 20 ms)": lambda n: rng.lognormal(math.log(0.02), 0.8, n),
        "exponential (mean 50 ms)": lambda n: rng.exponential(0.05, n),
        "bimodal (2 ms hit / 120 ms miss)": lambda n: np.where(
            rng.random(n) < 0.8,
            rng.lognormal(math.log(0.002), 0.3, n),
            rng.lognormal(math.log(0.12), 0.4, n),
        ),
        "pareto tail (from 5 ms, alpha 1.5)": lambda n: 0.005 * (1 + rng.pareto(1.5, n)),
        "uniform (10..900 ms)": lambda n: rng.uniform(0.01, 0.9, n),
    }


def histogram_quantile(quantile: float, edges: Sequence[float], counts: Sequence[int]) -> float:
    """Prometheus's histogram_quantile over cumulative-from-per-bucket counts (+Inf last)."""
    cumulative = list(np.cumsum(counts))
    total = cumulative[-1]
    rank = quantile * total
    bucket = bisect.bisect_left(cumulative, rank)
    if bucket == len(edges):  # the +Inf bucket: Prometheus returns the last finite edge
        return edges[-1]
    start = 0.0 if bucket == 0 else edges[bucket - 1]
    below = 0 if bucket == 0 else cumulative[bucket - 1]
    in_bucket = cumulative[bucket] - below
    return start + (edges[bucket] - start) * (rank - below) / in_bucket


def bucket_counts(values: np.ndarray, edges: Sequence[float]) -> list[int]:
    """Count values per bucket with Prometheus/OpenTelemetry semantics: (lower, upper]."""
    indices = np.searchsorted(np.asarray(edges), values, side="left")
    return list(np.bincount(indices, minlength=len(edges) + 1))


def relative_error(estimate: float, exact: float) -> float:
    return abs(estimate - exact) / exact


def accuracy_table(samples: int, rng: np.random.Generator, growth: str) -> None:
    environ = {"FLUX_METRICS_BUCKET_GROWTH": growth}
    edges = histogram_edges(environ=environ, thresholds=Thresholds())[HTTP_SERVER_DURATION]
    print(f"HTTP bucket edges: {len(edges)} finite, growth {growth}, 1 s threshold on an edge")
    print()
    header = (
        f"{'distribution':36} {'q':>5} {'exact ms':>10} {'sketch err':>11} "
        f"{'vs linear':>10} {'prom err':>9} {'sketch bins':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, draw in distributions(rng).items():
        values = draw(samples)
        ordered = np.sort(values)
        sketch = QuantileSketch()
        for value in values.tolist():
            sketch.add(value)
        counts = bucket_counts(values, edges)
        for quantile in QUANTILES:
            exact = float(ordered[nearest_rank_index(quantile, samples)])
            linear = float(np.quantile(values, quantile))
            estimate = sketch.quantile(quantile)
            assert estimate is not None
            prom = histogram_quantile(quantile, edges, counts)
            print(
                f"{name:36} {quantile:5.2f} {exact * 1000:10.3f} "
                f"{relative_error(estimate, exact):11.3%} "
                f"{relative_error(estimate, linear):10.3%} "
                f"{relative_error(prom, linear):9.2%} {sketch.bucket_count:11d}"
            )


def _fixed_probe(cpu: bool) -> SystemFigures:
    return SystemFigures(0, 0, None, 1, (0.0, 0.0, 0.0), 0.0)


def timing(samples: int) -> None:
    rng = random.Random(1)
    durations = [rng.lognormvariate(math.log(0.02), 0.8) for _ in range(samples)]
    routes = [f"/route/{i}" for i in range(20)]
    commands = ["GET", "SET", "INCR", "EXPIRE", "EVALSHA"]

    monitor = Monitor(probe=_fixed_probe)
    record_request = monitor.record_request
    started = time.perf_counter_ns()
    for index, duration in enumerate(durations):
        record_request(routes[index % 20], "GET", 200, duration)
    request_us = (time.perf_counter_ns() - started) / samples / 1000

    record_redis = monitor.record_redis
    started = time.perf_counter_ns()
    for index, duration in enumerate(durations):
        record_redis(commands[index % 5], duration, None)
    redis_us = (time.perf_counter_ns() - started) / samples / 1000

    sketch = QuantileSketch()
    started = time.perf_counter_ns()
    for duration in durations:
        sketch.add(duration)
    sketch_us = (time.perf_counter_ns() - started) / samples / 1000

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()], views=build_views({}))
    histogram = provider.get_meter("bench").create_histogram(HTTP_SERVER_DURATION, unit="s")
    attributes = {"http.route": "/route/1", "http.request.method": "GET"}
    started = time.perf_counter_ns()
    for duration in durations:
        histogram.record(duration, attributes)
    otel_us = (time.perf_counter_ns() - started) / samples / 1000
    provider.shutdown()

    print()
    print(f"cost per call over {samples} calls (mean, one thread):")
    print(f"  Monitor.record_request (20 routes)       {request_us:6.2f} us")
    print(f"  Monitor.record_redis (5 commands)        {redis_us:6.2f} us")
    print(f"  QuantileSketch.add                       {sketch_us:6.2f} us")
    print(f"  SDK Histogram.record with the View       {otel_us:6.2f} us  (for comparison)")

    record = monitor.roll()
    _route_failed, frozen = next(iter(record.routes.values()))
    live = QuantileSketch()
    for duration in durations:
        live.add(duration)
    live_bytes = sys.getsizeof(live._bins) + sum(
        sys.getsizeof(key) + sys.getsizeof(count) for key, count in live.items()
    )
    edges = histogram_edges(environ={}, thresholds=Thresholds())[HTTP_SERVER_DURATION]
    print()
    print("memory per series (one route, lognormal latency):")
    print(f"  live sketch: {live.bucket_count} buckets, about {live_bytes / 1024:.1f} KiB")
    print(f"  history sketch (arrays): {frozen.nbytes / 1024:.1f} KiB per route per interval")
    print(
        f"  Prometheus: {len(edges) + 1} bucket series + _sum + _count = "
        f"{len(edges) + 3} series per label set"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--growth", default="1.3", help="FLUX_METRICS_BUCKET_GROWTH to measure")
    args = parser.parse_args()
    # The monitor's rollover evaluates alerts; their log records are noise here.
    logging.getLogger("otel_flux").setLevel(logging.ERROR)
    print(f"python {platform.python_version()} on {platform.machine()}, {samples_note(args)}")
    accuracy_table(args.samples, np.random.default_rng(args.seed), args.growth)
    timing(args.samples)


def samples_note(args: argparse.Namespace) -> str:
    return f"{args.samples} samples per distribution, seed {args.seed}"


if __name__ == "__main__":
    main()
