"""Background processes and their pid files, with real child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from otel_flux.stack import process
from otel_flux.stack.health import wait_until

# Prints a line once its SIGTERM handler is installed, then ignores SIGTERM.
_IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def _sleeper(tmp_path: Path, name: str = "sleeper") -> process.Tracked:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    return process.start(name, command, tmp_path, os.environ)


def test_started_process_is_read_back(tmp_path: Path) -> None:
    started = _sleeper(tmp_path)
    try:
        assert process.read(tmp_path, "sleeper") == started
    finally:
        process.stop(tmp_path, "sleeper")


def test_stop_ends_process_and_removes_pid_file(tmp_path: Path) -> None:
    started = _sleeper(tmp_path)

    stopped = process.stop(tmp_path, "sleeper")

    assert stopped
    assert not process.is_running(started)
    assert not process.pid_path(tmp_path, "sleeper").exists()


def test_stop_without_pid_file_reports_nothing_stopped(tmp_path: Path) -> None:
    assert not process.stop(tmp_path, "absent")


def test_stale_pid_file_is_not_running(tmp_path: Path) -> None:
    """A pid whose start time differs is a different process and is left alone."""
    process.pid_path(tmp_path, "ghost").write_text(f"{os.getpid()} 1\n")

    assert process.read(tmp_path, "ghost") is None


def test_malformed_pid_file_is_ignored(tmp_path: Path) -> None:
    process.pid_path(tmp_path, "broken").write_text("not a pid\n")

    assert process.read(tmp_path, "broken") is None


def test_sigterm_ignored_leads_to_sigkill(tmp_path: Path) -> None:
    command = [sys.executable, "-u", "-c", _IGNORES_SIGTERM]
    started = process.start("stubborn", command, tmp_path, os.environ)
    log = tmp_path / "stubborn.log"
    assert wait_until(lambda: "ready" in log.read_text(), 10.0, interval=0.05)

    stopped = process.stop(tmp_path, "stubborn", timeout=0.5)

    assert stopped
    assert not process.is_running(started)


def test_output_goes_to_log_in_run_dir(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('hello from the child')"]
    started = process.start("talker", command, tmp_path, os.environ)
    assert wait_until(lambda: not process.is_running(started), 10.0, interval=0.02)

    assert "hello from the child" in (tmp_path / "talker.log").read_text()
