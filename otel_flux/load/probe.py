"""A latency probe that runs beside Locust, outside its gevent event loop.

Locust's response times include the time its own event loop takes to resume
the waiting user. On the 2-core test machine that added about 30 ms per
request once users waited seconds between requests (Locust 2.47, measured
against a service that answered plain ``http.client`` requests in 2 to 5 ms).
The probe times a request from a plain thread at a fixed interval, so the
summary also shows the service's latency under the same load.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from urllib.parse import urlsplit

from otel_flux.load.addresses import Role, client_address

_PATH = "/api/files/1"
# Probe addresses in turn, so that each stays far below the default rate
# limit of 100 requests per minute at 4 requests per second in all.
_ADDRESSES = 8


class LatencyProbe:
    """Times one GET request every ``interval_s`` seconds until stopped."""

    def __init__(self, url: str, run_tag: int, interval_s: float = 0.25) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._interval = interval_s
        self._addresses = [client_address(run_tag, Role.PROBE, i + 1) for i in range(_ADDRESSES)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-probe", daemon=True)
        self.latencies_ms: list[float] = []
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=10)
        sent = 0
        while not self._stop.wait(self._interval):
            headers = {"X-Forwarded-For": self._addresses[sent % len(self._addresses)]}
            sent += 1
            started = time.perf_counter()
            try:
                connection.request("GET", _PATH, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection.close()
                continue
            if response.status != 200:
                self.errors += 1
                continue
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        connection.close()

    def percentiles(self) -> dict[str, float]:
        """Return the count and the nearest-rank p50, p95 and p99 of the probe in ms."""
        values = sorted(self.latencies_ms)
        result: dict[str, float] = {"requests": len(values), "errors": self.errors}
        for name, q in (("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            rank = max(1, math.ceil(q * len(values)))
            result[name] = values[rank - 1] if values else math.nan
        return result
