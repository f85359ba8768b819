"""Tail sampling keeps every error, slow and blocked trace and a ratio of the rest.

The stack's Collector keeps ordinary traces at 10 % (SAMPLING_ENVIRON). A burst
of synthetic traces goes straight to it over OTLP; then every trace id is looked
up in Jaeger's query API.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from tests.e2e.pipeline.senders import tracer_provider
from tests.e2e.pipeline.stackctl import PipelineStack, jaeger_trace, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SERVICE = "flux-sampling"
RATIO = 0.10
SPECIAL_TRACES = 30
ORDINARY_TRACES = 1000
# Probability, under the binomial model, that the kept count falls outside the
# accepted range by chance (each tail gets half). One false failure in 10,000 runs.
FALSE_FAILURE = 1e-4
DATA_TIMEOUT = 60.0
# The HTTP p99 threshold is 1 s; slow traces last 1.5 s.
SLOW_NS = 1_500_000_000
FAST_NS = 2_000_000


def binomial_bounds(n: int, p: float, alpha: float) -> tuple[int, int]:
    """Return the smallest range [low, high] with P(X < low) and P(X > high) each <= alpha/2."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    low, cumulative = 0, 0.0
    while cumulative + pmf[low] <= alpha / 2:
        cumulative += pmf[low]
        low += 1
    high, cumulative = n, 0.0
    while cumulative + pmf[high] <= alpha / 2:
        cumulative += pmf[high]
        high -= 1
    return low, high


def _send_trace(tracer: trace.Tracer, kind: str) -> str:
    """Emit one two-span trace of the given kind with explicit times and return its id."""
    start = time.time_ns()
    end = start + (SLOW_NS if kind == "slow" else FAST_NS)
    root = tracer.start_span("GET /sampled", kind=SpanKind.SERVER, start_time=start)
    context = root.get_span_context()
    check = tracer.start_span(
        "security.rate_limit",
        kind=SpanKind.INTERNAL,
        start_time=start + 1000,
        context=trace.set_span_in_context(root),
    )
    check.set_attribute("security.decision", "block" if kind == "blocked" else "allow")
    check.end(end_time=start + 500_000)
    if kind == "error":
        root.set_status(StatusCode.ERROR, "synthetic failure")
    root.set_attribute("flux.test.kind", kind)
    root.end(end_time=end)
    return format(context.trace_id, "032x")


@pytest.fixture(scope="module")
def sent(pipeline: PipelineStack) -> dict[str, list[str]]:
    """Send the mixed burst, interleaved, and return the trace ids by kind."""
    provider = tracer_provider(pipeline.collector_grpc, {"service.name": SERVICE})
    tracer = provider.get_tracer("tests.e2e.pipeline")
    ids: dict[str, list[str]] = {"error": [], "slow": [], "blocked": [], "ordinary": []}
    every = ORDINARY_TRACES // SPECIAL_TRACES
    for i in range(ORDINARY_TRACES):
        ids["ordinary"].append(_send_trace(tracer, "ordinary"))
        if i % every == 0 and len(ids["error"]) < SPECIAL_TRACES:
            for kind in ("error", "slow", "blocked"):
                ids[kind].append(_send_trace(tracer, kind))
    provider.shutdown()
    return ids


@pytest.fixture(scope="module")
def kept(pipeline: PipelineStack, sent: dict[str, list[str]]) -> dict[str, list[str]]:
    """Trace ids found in Jaeger, by kind, once every special trace arrived."""

    def lookup(trace_ids: list[str]) -> Iterator[str]:
        return (trace_id for trace_id in trace_ids if jaeger_trace(pipeline, trace_id) is not None)

    special = [trace_id for kind in ("error", "slow", "blocked") for trace_id in sent[kind]]
    wait_for(lambda: len(list(lookup(special))) == len(special), DATA_TIMEOUT, interval=1.0)
    # Ordinary traces are decided in the same timer ticks as the special ones;
    # a few more seconds cover the batch and the export to Jaeger.
    time.sleep(3)
    return {kind: list(lookup(trace_ids)) for kind, trace_ids in sent.items()}


@pytest.mark.parametrize("kind", ["error", "slow", "blocked"])
def test_every_special_trace_kept(
    sent: dict[str, list[str]], kept: dict[str, list[str]], kind: str
) -> None:
    missing = sorted(set(sent[kind]) - set(kept[kind]))

    assert missing == []


def test_special_traces_sent(sent: dict[str, list[str]]) -> None:
    assert [len(sent[kind]) for kind in ("error", "slow", "blocked")] == [SPECIAL_TRACES] * 3


def test_ordinary_traces_kept_at_ratio(kept: dict[str, list[str]]) -> None:
    """With n=1000 and p=0.1 the accepted range is 65..139 traces."""
    low, high = binomial_bounds(ORDINARY_TRACES, RATIO, FALSE_FAILURE)
    count = len(kept["ordinary"])
    print(f"ordinary traces kept: {count} of {ORDINARY_TRACES} (accepted {low}..{high})")

    assert low <= count <= high


def test_kept_trace_complete(pipeline: PipelineStack, kept: dict[str, list[str]]) -> None:
    """A kept trace arrives with both of its spans, not only the one that matched."""
    found = jaeger_trace(pipeline, kept["blocked"][0])

    assert found is not None
    assert len(found["spans"]) == 2


def test_binomial_bounds_cover_mean() -> None:
    low, high = binomial_bounds(ORDINARY_TRACES, RATIO, FALSE_FAILURE)

    assert low < ORDINARY_TRACES * RATIO < high
