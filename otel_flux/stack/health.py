"""Health probes for the stack's components and a bounded wait for them."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from otel_flux.errors import FluxError

Probe = Callable[[], bool]


class StackTimeoutError(FluxError):
    """A component did not become healthy, or data did not arrive, in time."""


def wait_until(
    check: Probe,
    timeout: float,
    *,
    interval: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call check until it returns True or timeout seconds pass; return its last result."""
    deadline = clock() + timeout
    while True:
        if check():
            return True
        if clock() >= deadline:
            return False
        sleep(interval)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Return True when GET url returns a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URL built by the stack)
            status: int = response.status
    except (OSError, urllib.error.URLError):
        return False
    return 200 <= status < 300


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET url and decode its JSON body; raise OSError or ValueError on failure."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URL built by the stack)
        return json.loads(response.read())


def redis_ok(port: int, timeout: float = 2.0) -> bool:
    """Return True when a Redis server on loopback port replies PONG to PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
