"""Background processes tracked by pid files in the run directory.

A pid file stores the pid and the process start time from /proc/PID/stat, so a
pid that the kernel has since given to an unrelated process is never signalled.
Each process starts in its own session, which makes its pid the process-group
id: stopping it signals the whole group, including any workers it forked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_logger = logging.getLogger(__name__)

# Children started by this interpreter. Keeping the Popen objects lets is_running()
# collect their exit status, and avoids the ResourceWarning that Popen emits
# when it is garbage-collected while its process still runs.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True, slots=True)
class Tracked:
    """A process recorded in a pid file."""

    pid: int
    start_time: str


def start(
    name: str,
    command: Sequence[str],
    run_dir: Path,
    environ: Mapping[str, str],
    cwd: Path | None = None,
) -> Tracked:
    """Start command in the background, logging to <run_dir>/<name>.log."""
    log_path = run_dir / f"{name}.log"
    with log_path.open("ab") as log:
        child = subprocess.Popen(  # noqa: S603 (the commands are built by the stack, not a shell)
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(environ),
            cwd=cwd or run_dir,
            start_new_session=True,
        )
    _children[child.pid] = child
    tracked = Tracked(child.pid, _start_time(child.pid) or "")
    pid_path(run_dir, name).write_text(f"{tracked.pid} {tracked.start_time}\n")
    _logger.debug("started %s as pid %d, log %s", name, child.pid, log_path)
    return tracked


def pid_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def read(run_dir: Path, name: str) -> Tracked | None:
    """Return the process recorded for name if it is still running, else None."""
    try:
        fields = pid_path(run_dir, name).read_text().split()
    except FileNotFoundError:
        return None
    if len(fields) != 2 or not fields[0].isdigit():
        _logger.warning("ignoring malformed pid file %s", pid_path(run_dir, name))
        return None
    tracked = Tracked(int(fields[0]), fields[1])
    return tracked if is_running(tracked) else None


def is_running(tracked: Tracked) -> bool:
    """Return True until the process has exited, if it is the process recorded."""
    child = _children.get(tracked.pid)
    if child is not None:
        # A child of this interpreter keeps its pid until its status is collected,
        # so the pid cannot belong to another process yet.
        if child.poll() is None:
            return True
        del _children[tracked.pid]
        return False

    stat = _stat_fields(tracked.pid)
    if stat is None or stat[19] != tracked.start_time:
        return False
    if stat[0] == "Z":
        # The main thread shows Z as soon as it exits, but other threads may still
        # run and hold ports. The process is gone once only the main thread remains.
        return _thread_count(tracked.pid) > 1
    return True


def stop(
    run_dir: Path,
    name: str,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Stop the process recorded for name: SIGTERM, then SIGKILL after timeout.

    Returns True if a running process was stopped. The pid file is removed in
    every case.
    """
    tracked = read(run_dir, name)
    pid_path(run_dir, name).unlink(missing_ok=True)
    if tracked is None:
        return False

    _signal_group(tracked.pid, signal.SIGTERM)
    deadline = clock() + timeout
    while is_running(tracked) and clock() < deadline:
        sleep(0.1)
    if is_running(tracked):
        _logger.warning(
            "%s (pid %d) ignored SIGTERM for %.0f s; sending SIGKILL", name, tracked.pid, timeout
        )
        _signal_group(tracked.pid, signal.SIGKILL)
        kill_deadline = clock() + 5.0
        while is_running(tracked) and clock() < kill_deadline:
            sleep(0.05)
    return True


def _signal_group(pid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pid, signum)
        return
    except (ProcessLookupError, PermissionError):
        pass
    # Because pid leads no process group of ours, signal the process alone.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _thread_count(pid: int) -> int:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0


def _start_time(pid: int) -> str | None:
    stat = _stat_fields(pid)
    return None if stat is None else stat[19]


def _stat_fields(pid: int) -> list[str] | None:
    """Return /proc/PID/stat fields after the command name, starting at the state."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces, so split after it.
    # Index 0 is the state (field 3 in proc(5)) and index 19 is starttime (field 22).
    return text[text.rfind(")") + 2 :].split()
