"""deploy/compose, checked offline: no container engine runs here.

Each check stands in for what `docker compose config` and a first `up` would
reveal: the YAML parses, every file it builds from or mounts exists, every
config it mounts is the local stack's own or passes the same validators, and
images are pinned.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from otel_flux.stack import deploy
from tests.integration.deploy.conftest import LOCAL_COLLECTOR, ROOT, block, load_yaml, run

COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = load_yaml(COMPOSE_DIR / "compose.yaml")
SERVICES: dict[str, Any] = COMPOSE["services"]


def _mounts() -> list[tuple[str, Path, str]]:
    """Return (service, host path, container path) for every bind mount."""
    mounts = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                mounts.append((name, (COMPOSE_DIR / source).resolve(), target))
    return mounts


def _mounted(target: str) -> Path:
    for _, source, mounted_at in _mounts():
        if mounted_at == target:
            return source
    raise AssertionError(f"nothing is mounted at {target}")


def test_compose_has_every_component() -> None:
    assert set(SERVICES) == {"redis", "collector", "jaeger", "prometheus", "nginx", "service"}


def test_service_runs_three_replicas() -> None:
    assert SERVICES["service"]["deploy"]["replicas"] == 3


@pytest.mark.parametrize(("service", "source", "target"), _mounts(), ids=lambda v: str(v))
def test_mounted_file_exists(service: str, source: Path, target: str) -> None:
    assert source.exists(), f"{service} mounts missing {source} at {target}"


def test_build_files_exist() -> None:
    for name, service in SERVICES.items():
        if "build" not in service:
            continue
        context = (COMPOSE_DIR / service["build"]["context"]).resolve()
        dockerfile = context / service["build"]["dockerfile"]

        assert dockerfile.is_file(), f"{name}: {dockerfile}"
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                for source in line.split()[1:-1]:
                    assert list(context.glob(source)), f"{name}: {dockerfile.name} copies {source}"


def _pinned(image: str) -> bool:
    """True for name:tag where the tag names a release: digits, not latest or a bare major."""
    _, _, tag = image.rpartition(":")
    return bool(re.fullmatch(r"v?\d+\.\d+\.\d+.*", tag))


def test_images_are_pinned() -> None:
    images = [service["image"] for service in SERVICES.values()]
    for dockerfile in COMPOSE_DIR.glob("*.Dockerfile"):
        images += [
            line.split()[1]
            for line in dockerfile.read_text().splitlines()
            if line.startswith("FROM")
        ]
    unpinned = [image for image in images if not _pinned(image) and not image.endswith(":nonroot")]

    assert unpinned == []


def test_jaeger_image_matches_go_module() -> None:
    """The image is the 2.12 line, the release of the Jaeger Go module v1.75.0 built locally."""
    go_mod = (ROOT / "collector-config" / "jaeger" / "go.mod").read_text()

    assert "github.com/jaegertracing/jaeger v1.75.0" in go_mod
    assert SERVICES["jaeger"]["image"].startswith("jaegertracing/jaeger:2.12.")


def test_collector_builder_matches_go_version() -> None:
    dockerfile = (COMPOSE_DIR / "collector.Dockerfile").read_text()
    go_mod = (ROOT / "collector-config" / "otelcol-flux" / "go.mod").read_text()
    go_line = re.search(r"^go (\d+\.\d+)", go_mod, re.MULTILINE)

    assert go_line is not None
    assert f"FROM golang:{go_line.group(1)}." in dockerfile


def test_collector_mounts_local_config() -> None:
    assert _mounted("/etc/otelcol-flux/otelcol-flux.yaml") == LOCAL_COLLECTOR


def test_jaeger_mounts_local_config() -> None:
    local = ROOT / "collector-config" / "jaeger" / "config.yaml"

    assert _mounted("/etc/jaeger/config.yaml") == local


def test_prometheus_mounts_local_rules() -> None:
    assert _mounted("/etc/prometheus/rules") == ROOT / "collector-config" / "rules"


@pytest.mark.parametrize(
    ("overrides", "base"),
    [
        ("collector-overrides.yaml", LOCAL_COLLECTOR),
        ("jaeger-overrides.yaml", ROOT / "collector-config" / "jaeger" / "config.yaml"),
    ],
)
def test_override_keys_exist_in_base(overrides: str, base: Path) -> None:
    """An override of a renamed component would silently add a new one; this catches it."""
    override = load_yaml(COMPOSE_DIR / overrides)
    original = load_yaml(base)
    for section in ("extensions", "receivers", "exporters"):
        for name in override.get(section, {}):
            assert name in original[section], f"{overrides}: {section}.{name} is not in {base}"


@pytest.mark.stack
def test_merged_collector_config_validates(built_binaries: dict[str, Path]) -> None:
    result = run(
        [
            str(built_binaries["otelcol-flux"]),
            "validate",
            f"--config={LOCAL_COLLECTOR}",
            f"--config={COMPOSE_DIR / 'collector-overrides.yaml'}",
        ]
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.stack
def test_merged_jaeger_config_validates(built_binaries: dict[str, Path]) -> None:
    result = run(
        [
            str(built_binaries["jaeger"]),
            "validate",
            f"--config={ROOT / 'collector-config' / 'jaeger' / 'config.yaml'}",
            f"--config={COMPOSE_DIR / 'jaeger-overrides.yaml'}",
        ]
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.stack
def test_merged_validate_rejects_bad_override(
    built_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """Guards the merge checks above: a broken override must fail validation."""
    broken = tmp_path / "overrides.yaml"
    broken.write_text("exporters:\n  prometheus:\n    no_such_option: 1\n")

    result = run(
        [
            str(built_binaries["otelcol-flux"]),
            "validate",
            f"--config={LOCAL_COLLECTOR}",
            f"--config={broken}",
        ]
    )

    assert result.returncode != 0
    assert "no_such_option" in result.stderr


def test_compose_merge_keeps_local_pipelines() -> None:
    """The override changes addresses only; the pipelines are the local config's."""
    override = load_yaml(COMPOSE_DIR / "collector-overrides.yaml")

    assert "pipelines" not in override.get("service", {})
    assert "processors" not in override
    assert block(override, "exporters.otlp_grpc/jaeger.endpoint") == "jaeger:4317"


@pytest.mark.parametrize("path", list(deploy.rendered_files(ROOT)), ids=lambda p: p.name)
def test_rendered_file_is_current(path: Path) -> None:
    expected = deploy.rendered_files(ROOT)[path]

    assert path.read_text() == expected, f"{path} is stale; run python -m otel_flux.stack.deploy"


def test_compose_prometheus_passes_promtool() -> None:
    result = run(["promtool", "check", "config", str(COMPOSE_DIR / "prometheus.yml")])

    assert result.returncode == 0, result.stdout + result.stderr


def test_instances_trust_only_nginx() -> None:
    service_env = SERVICES["service"]["environment"]
    nginx_address = SERVICES["nginx"]["networks"]["default"]["ipv4_address"]

    assert nginx_address == deploy.COMPOSE_NGINX_ADDRESS
    assert service_env["FLUX_TRUSTED_PROXIES"] == f"{nginx_address}/32"


def test_hmac_key_comes_from_env_file() -> None:
    """The key is a required variable from the gitignored .env, never a value in the file."""
    value = SERVICES["service"]["environment"]["FLUX_SECURITY_HMAC_KEY"]

    assert value.startswith("${FLUX_SECURITY_HMAC_KEY:?")
    assert ".env" in (COMPOSE_DIR / ".gitignore").read_text().split()


def test_published_ports_are_loopback() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port}"
