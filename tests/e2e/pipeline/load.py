"""Background load for the fault tests: paced HTTP requests and paced OTLP traces."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from opentelemetry.trace import SpanKind

from tests.e2e.pipeline.senders import tracer_provider

# The same request mix in every phase: a listing, single files and a health check.
REQUEST_MIX = ("/api/files", "/api/files/1", "/api/files/2", "/health")


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it started (monotonic s), how long it took, and its outcome."""

    started: float
    latency_s: float
    status: int
    error: str | None = None


@dataclass
class RequestLoad:
    """A thread that sends REQUEST_MIX round-robin at a fixed rate until stopped."""

    base_url: str
    rate_per_s: float
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="request-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def between(self, start: float, end: float) -> list[Sample]:
        return [sample for sample in self.samples if start <= sample.started < end]

    def _run(self) -> None:
        period = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        index = 0
        while not self._stop.is_set():
            path = REQUEST_MIX[index % len(REQUEST_MIX)]
            index += 1
            self.samples.append(self._request(path))
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _request(self, path: str) -> Sample:
        started = time.monotonic()
        status, error = 0, None
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=10) as response:  # noqa: S310 (loopback)
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            error = repr(exc)
        return Sample(started, time.monotonic() - started, status, error)


@dataclass
class TraceLoad:
    """A thread that emits single-span traces over OTLP at a fixed rate, recording each id."""

    endpoint: str
    service: str
    rate_per_s: float
    sent: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trace-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def between(self, start: float, end: float) -> list[str]:
        return [trace_id for sent_at, trace_id in self.sent if start <= sent_at < end]

    def _run(self) -> None:
        provider = tracer_provider(self.endpoint, {"service.name": self.service})
        tracer = provider.get_tracer("tests.e2e.pipeline.faults")
        period = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                with tracer.start_as_current_span("GET /fault", kind=SpanKind.SERVER) as span:
                    trace_id = format(span.get_span_context().trace_id, "032x")
                self.sent.append((time.monotonic(), trace_id))
                next_at += period
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        finally:
            # Flushes what the SDK still holds; the Collector takes it even when
            # Jaeger is away, because the exporter queues it.
            provider.shutdown()
