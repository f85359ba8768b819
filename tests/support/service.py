"""Run an ASGI app under opentelemetry-instrument uvicorn in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, port_open, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@dataclass
class RunningService:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> float | None:
        """Stop gracefully; return the seconds it took, or None if it had to be killed."""
        return stop_process(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def instrumented_uvicorn(
    app: str,
    env: Mapping[str, str],
    log_path: Path,
    extra_args: Sequence[str] = (),
    server: Sequence[str] | None = None,
) -> Iterator[RunningService]:
    """Start ``opentelemetry-instrument uvicorn APP``; stop it on exit if still running.

    The process is stopped with SIGTERM (a graceful shutdown that flushes
    telemetry) and killed if it has not exited within 15 s.
    """
    port = free_port()
    command = [bin_path("opentelemetry-instrument")]
    if server is None:
        command += [bin_path("uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
    else:
        command += [bin_path(server[0]), *server[1:], app, "--bind", f"127.0.0.1:{port}"]
    command += list(extra_args)
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=full_env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: port_open(port) or process.poll() is not None, 30, "the service")
            if process.poll() is not None:
                raise RuntimeError(f"the service exited early; log: {log_path.read_text()}")
            yield RunningService(port, process, log_path)
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> float | None:
    """Send SIGTERM, wait, kill on timeout; return seconds to exit, or None if killed."""
    if process.poll() is not None:
        return 0.0
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
        return None
    return time.monotonic() - started
