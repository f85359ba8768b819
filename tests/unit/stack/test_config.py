"""Stack settings: defaults, overrides and rejected values."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_flux.errors import ConfigError
from otel_flux.stack import config


def test_defaults_match_documented_ports() -> None:
    loaded = config.load({})

    assert loaded.port(config.SERVICE_PORT) == 8000
    assert loaded.port(config.COLLECTOR_GRPC_PORT) == 4317
    assert loaded.port(config.COLLECTOR_HTTP_PORT) == 4318
    assert loaded.port(config.COLLECTOR_HEALTH_PORT) == 13133
    assert loaded.port(config.COLLECTOR_EXPORTER_PORT) == 8889
    assert loaded.port(config.JAEGER_QUERY_PORT) == 16686
    assert loaded.port(config.PROMETHEUS_PORT) == 9090
    assert loaded.port(config.REDIS_PORT) == 6379


def test_port_override_is_used() -> None:
    loaded = config.load({"FLUX_PROMETHEUS_PORT": "19090"})

    assert loaded.port(config.PROMETHEUS_PORT) == 19090


def test_invalid_port_names_variable() -> None:
    with pytest.raises(ConfigError, match="FLUX_REDIS_PORT") as caught:
        config.load({"FLUX_REDIS_PORT": "70000"})

    assert caught.value.value == "70000"


def test_duplicate_ports_rejected() -> None:
    with pytest.raises(ConfigError, match="FLUX_COLLECTOR_GRPC_PORT is also 9090"):
        config.load({"FLUX_COLLECTOR_GRPC_PORT": "9090"})


def test_run_dir_defaults_under_cache_dir(tmp_path: Path) -> None:
    loaded = config.load({"FLUX_CACHE_DIR": str(tmp_path)})

    assert loaded.run_dir == tmp_path / "run"


def test_run_dir_override(tmp_path: Path) -> None:
    loaded = config.load({"FLUX_RUN_DIR": str(tmp_path / "elsewhere")})

    assert loaded.run_dir == tmp_path / "elsewhere"


def test_child_environ_carries_every_port() -> None:
    loaded = config.load({"FLUX_JAEGER_OTLP_GRPC_PORT": "24327"})

    environ = loaded.child_environ({})

    assert environ["FLUX_JAEGER_OTLP_GRPC_PORT"] == "24327"
    assert set(environ) == {setting.env for setting in config.PORT_SETTINGS}


def test_rules_dir_defaults_to_committed_rules() -> None:
    loaded = config.load({})

    assert loaded.rules_dir == Path(config.__file__).resolve().parents[2] / "collector-config/rules"


def test_rules_dir_override(tmp_path: Path) -> None:
    loaded = config.load({"FLUX_STACK_RULES_DIR": str(tmp_path)})

    assert loaded.rules_dir == tmp_path


def test_missing_rules_dir_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-rules"

    with pytest.raises(ConfigError, match="FLUX_STACK_RULES_DIR") as caught:
        config.load({"FLUX_STACK_RULES_DIR": str(missing)})

    assert caught.value.value == str(missing)


def test_prometheus_interval_defaults_to_5s() -> None:
    loaded = config.load({})

    assert loaded.prometheus_interval_s == 5


def test_prometheus_interval_rejects_zero() -> None:
    with pytest.raises(ConfigError, match="FLUX_STACK_PROMETHEUS_INTERVAL_S"):
        config.load({"FLUX_STACK_PROMETHEUS_INTERVAL_S": "0"})
