"""Resource: service.name precedence and one service.instance.id per process."""

from __future__ import annotations

import os

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_flux.resource import build_resource, default_service_name


def test_service_name_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")

    assert build_resource().attributes["service.name"] == "from-env"


def test_resource_attributes_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,team=auth")

    resource = build_resource()

    assert resource.attributes["service.name"] == "from-attributes"
    assert resource.attributes["team"] == "auth"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["uvicorn", "otel_flux.demo:app", "--port", "8000"], "flux-auth"),
        (["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "shop.api:app"], "shop"),
        (["python", "script.py"], "unknown_service:python"),
    ],
)
def test_default_service_name(argv: list[str], expected: str) -> None:
    assert default_service_name(argv) == expected


def test_distro_attributes_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc")

    attributes = build_resource("0.66b2").attributes

    assert attributes["telemetry.distro.name"] == "otel_flux"
    assert attributes["telemetry.auto.version"] == "0.66b2"
    assert attributes["service.instance.id"]


def test_instance_id_changes_after_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc")
    provider = TracerProvider(resource=build_resource())
    parent_id = provider.resource.attributes["service.instance.id"]
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        child_id = str(provider.resource.attributes["service.instance.id"])
        os.write(write_end, child_id.encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 200).decode()
    os.waitpid(pid, 0)
    os.close(read_end)

    assert child_id
    assert child_id != parent_id
    assert provider.resource.attributes["service.instance.id"] == parent_id
