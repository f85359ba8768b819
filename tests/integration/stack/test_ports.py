"""Port checks against real listening sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_flux.stack import config, ports, runner
from tests.support.stack import stack_environ


@pytest.fixture
def listener() -> Iterator[int]:
    """A socket of this test process listening on a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unused_port_is_free() -> None:
    assert ports.is_free(_free_port())


def test_listening_port_is_not_free(listener: int) -> None:
    assert not ports.is_free(listener)


def test_listener_names_this_process(listener: int) -> None:
    holder = ports.describe_listener(listener)

    assert holder is not None
    assert holder.startswith(f"pid {os.getpid()} (")


def test_unused_port_has_no_listener() -> None:
    assert ports.describe_listener(_free_port()) is None


def test_ensure_free_error_names_port_holder_and_setting(listener: int) -> None:
    with pytest.raises(ports.PortInUseError) as caught:
        ports.ensure_free(listener, "FLUX_SERVICE_PORT")

    message = str(caught.value)
    assert f"port {listener} (FLUX_SERVICE_PORT)" in message
    assert f"pid {os.getpid()}" in message
    assert "set FLUX_SERVICE_PORT to a free port" in message


def test_stack_up_refuses_taken_redis_port(listener: int, tmp_path: Path) -> None:
    """The first component's port is checked before anything is started."""
    settings = config.load(
        {"FLUX_REDIS_PORT": str(listener), "FLUX_RUN_DIR": str(tmp_path / "run")}
    )

    with pytest.raises(ports.PortInUseError, match="FLUX_REDIS_PORT"):
        runner.up(settings, built={}, say=lambda line: None)

    assert not (tmp_path / "run" / "redis.pid").exists()


def test_stack_up_checks_all_ports_first(listener: int, tmp_path: Path) -> None:
    """A taken service port, the last component's, fails before Redis starts."""
    # Every other port is a free one, so a stack already running on the default
    # ports (after `otel-flux stack up`) cannot fail the check first.
    environ = stack_environ(tmp_path / "run")
    environ["FLUX_SERVICE_PORT"] = str(listener)
    settings = config.load(environ)

    with pytest.raises(ports.PortInUseError, match="FLUX_SERVICE_PORT"):
        runner.up(settings, built={}, say=lambda line: None)

    assert not (tmp_path / "run" / "redis.pid").exists()


def test_holder_command_is_one_line(tmp_path: Path) -> None:
    script = "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\n"
    script += "s.listen()\nprint(s.getsockname()[1], flush=True)\ntime.sleep(30)\n"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())

        holder = ports.describe_listener(port)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()

    assert holder is not None
    assert "\n" not in holder
    assert f"pid {child.pid} (" in holder
