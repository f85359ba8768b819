"""A constant-rate HTTP/1.1 client for latency at a fixed load.

wrk sends as fast as the server responds, so its latency at saturation mostly
measures queueing. This client sends request ``i`` at ``start + i / rate``
over keep-alive connections and reports percentiles. When every connection
is busy at a request's scheduled time, its latency counts from that scheduled
time, so a slow server cannot hide its backlog (coordinated omission). A
request sent on time counts from its send, which keeps the event loop's timer
granularity out of the figures.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

# Seconds the run may go on after its schedule ends before unfinished
# requests are given up and counted as not completed.
DRAIN_S = 5.0


@dataclass(frozen=True, slots=True)
class PacedResult:
    """Figures of one constant-rate run; latencies in milliseconds."""

    target_rate: float
    achieved_rate: float
    scheduled: int
    completed: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the nearest-rank percentile ``q`` (0 to 1) of ascending values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def run_paced(
    host: str, port: int, path: str, rate: float, duration_s: float, connections: int = 32
) -> PacedResult:
    """Send ``rate`` GET requests per second to ``path`` for ``duration_s`` seconds."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    scheduled = max(1, int(rate * duration_s))
    latencies: list[float] = []
    errors = 0
    next_index = 0
    start = time.perf_counter() + 0.2
    deadline = start + duration_s + DRAIN_S

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < scheduled:
                index = next_index
                next_index += 1
                due = start + index / rate
                now = time.perf_counter()
                if now > deadline:
                    return
                if due > now:
                    await asyncio.sleep(due - now)
                sent = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                done = time.perf_counter()
                # Late because this connection was still busy: count from the schedule.
                base = due if now > due else sent
                latencies.append((done - base) * 1000)
                if status >= 400:
                    errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(worker()) for _ in range(connections)]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration_s + DRAIN_S + 5)
    except TimeoutError:
        for task in tasks:
            task.cancel()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return PacedResult(
        target_rate=rate,
        achieved_rate=len(latencies) / elapsed if elapsed > 0 else 0.0,
        scheduled=scheduled,
        completed=len(latencies),
        errors=errors,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else math.nan,
    )
