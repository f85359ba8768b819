"""``otel-flux check-config`` and the start-up checks of OTEL_* variables."""

from __future__ import annotations

import io
import logging
import socket

import pytest

from otel_flux import otel_env
from otel_flux.check_config import mask_url, run_check


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("OTEL_", "FLUX_")):
            monkeypatch.delenv(name)


def check(connect: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check(connect=connect, out=out)
    return code, out.getvalue()


def test_defaults_pass() -> None:
    code, output = check()

    assert code == 0
    assert "FLUX_REDIS_URL" in output
    assert "No errors." in output


def test_invalid_flux_value_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_CLIENT_ADDRESS", "sometimes")

    code, output = check()

    assert code == 1
    assert "FLUX_CLIENT_ADDRESS" in output
    assert "'sometimes'" in output


def test_grpc_port_with_http_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")

    code, output = check()

    assert code == 1
    assert "port 4317 is the OTLP/gRPC port" in output


def test_http_port_with_grpc_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")

    code, output = check()

    assert code == 1
    assert "port 4318 is the OTLP/HTTP port" in output


def test_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_ADMIN_TOKEN", "admin-token-value")
    monkeypatch.setenv("FLUX_REDIS_URL", "redis://user:redis-password@127.0.0.1:6379/0")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer header-secret")

    code, output = check()

    assert code == 0
    assert "admin-token-value" not in output
    assert "redis-password" not in output
    assert "header-secret" not in output


def test_unreachable_endpoint_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")

    code, output = check(connect=True)

    assert code == 1
    assert f"nothing answers at the OTLP traces endpoint http://127.0.0.1:{port}" in output


def test_listening_endpoint_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")

        code, output = check(connect=True)

    assert code == 0
    assert "answers" in output


def test_mask_url_keeps_host() -> None:
    assert mask_url("redis://:pw@host:6379/1") == "redis://:***@host:6379/1"


def test_drop_invalid_removes_value_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"OTEL_BSP_SCHEDULE_DELAY": "soon", "OTEL_SERVICE_NAME": "svc"}

    with caplog.at_level(logging.WARNING, logger="otel_flux.otel_env"):
        problems = otel_env.drop_invalid(environ)

    assert [p.variable for p in problems] == ["OTEL_BSP_SCHEDULE_DELAY"]
    assert "OTEL_BSP_SCHEDULE_DELAY" not in environ
    assert "'soon'" in caplog.text


def test_shared_endpoint_mismatch_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")

    problems = otel_env.find_problems()

    assert len(problems) == 1


def test_admin_path_needs_leading_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_ADMIN_PATH", "admin")

    code, output = check()

    assert code == 1
    assert "FLUX_ADMIN_PATH" in output
