"""Find out whether a TCP port is free and, if not, which process listens on it."""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

from otel_flux.errors import FluxError

_logger = logging.getLogger(__name__)

_PROC = Path("/proc")
_TCP_LISTEN = "0A"


class PortInUseError(FluxError):
    """A port the stack needs is already taken by another process."""

    def __init__(self, port: int, setting: str, holder: str | None) -> None:
        self.port = port
        self.setting = setting
        self.holder = holder
        held_by = holder or "a process that could not be identified"
        super().__init__(
            f"port {port} ({setting}) is already in use by {held_by}; "
            f"stop that process or set {setting} to a free port"
        )


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when a server could listen on host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def ensure_free(port: int, setting: str) -> None:
    """Raise PortInUseError naming the holder when port is not free on loopback."""
    if not is_free(port):
        raise PortInUseError(port, setting, describe_listener(port))


def describe_listener(port: int) -> str | None:
    """Return "pid N (command)" of the process listening on port, or None if unknown."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    pid = _pid_owning(inodes)
    if pid is None:
        return None
    return f"pid {pid} ({_command_line(pid)})"


def _listening_inodes(port: int) -> set[str]:
    """Return the socket inodes that listen on port, from /proc/net/tcp and tcp6."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _TCP_LISTEN:
                inodes.add(fields[9])
    return inodes


def _pid_owning(inodes: set[str]) -> int | None:
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(entry.name)
        except OSError:
            # The process exited, or it belongs to a user whose fds this one cannot read.
            continue
    return None


def _command_line(pid: int) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "command unknown"
    words = raw.rstrip(b"\0").split(b"\0")
    text = " ".join(word.decode(errors="replace") for word in words)
    # One line in messages, even for a `python -c` script with newlines.
    text = " ".join(text.split())
    return text[:120] or "command unknown"
