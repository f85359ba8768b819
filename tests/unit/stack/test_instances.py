"""Instance layout, the per-run HMAC key and the nginx config of `stack up --instances`."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from otel_flux.errors import ConfigError, FluxError
from otel_flux.stack import config, instances, nginx


def _config(tmp_path: Path, **environ: str) -> config.StackConfig:
    return config.load({"FLUX_RUN_DIR": str(tmp_path), **environ})


def test_default_ports_follow_service_port(tmp_path: Path) -> None:
    layout = instances.plan(_config(tmp_path), 3, {})

    assert layout.ports == (8001, 8002, 8003)


def test_configured_ports_take_first_n(tmp_path: Path) -> None:
    environ = {"FLUX_SERVICE_INSTANCE_PORTS": "9101, 9102,9103,9104"}

    layout = instances.plan(_config(tmp_path), 3, environ)

    assert layout.ports == (9101, 9102, 9103)


@pytest.mark.parametrize("count", [1, instances.MAX_INSTANCES + 1])
def test_count_out_of_range_rejected(tmp_path: Path, count: int) -> None:
    with pytest.raises(ConfigError, match="--instances"):
        instances.plan(_config(tmp_path), count, {})


def test_too_few_ports_rejected(tmp_path: Path) -> None:
    environ = {"FLUX_SERVICE_INSTANCE_PORTS": "9101,9102"}

    with pytest.raises(ConfigError, match="at least 3 ports"):
        instances.plan(_config(tmp_path), 3, environ)


def test_port_clash_names_other_setting(tmp_path: Path) -> None:
    environ = {"FLUX_SERVICE_INSTANCE_PORTS": "9101,6379"}

    with pytest.raises(ConfigError, match="FLUX_REDIS_PORT"):
        instances.plan(_config(tmp_path), 2, environ)


def test_repeated_port_rejected(tmp_path: Path) -> None:
    environ = {"FLUX_SERVICE_INSTANCE_PORTS": "9101,9101"}

    with pytest.raises(ConfigError, match="twice"):
        instances.plan(_config(tmp_path), 2, environ)


def test_invalid_port_names_variable(tmp_path: Path) -> None:
    environ = {"FLUX_SERVICE_INSTANCE_PORTS": "9101,http"}

    with pytest.raises(ConfigError, match="FLUX_SERVICE_INSTANCE_PORTS"):
        instances.plan(_config(tmp_path), 2, environ)


def test_hmac_key_private_and_stable(tmp_path: Path) -> None:
    first = instances.hmac_key(tmp_path)
    second = instances.hmac_key(tmp_path)
    mode = stat.S_IMODE((tmp_path / "security-hmac.key").stat().st_mode)

    assert first == second
    assert len(first) >= 32
    assert mode == 0o600


def test_clear_removes_key_and_layout(tmp_path: Path) -> None:
    instances.hmac_key(tmp_path)
    instances.save_layout(tmp_path, instances.Layout((9101, 9102)))

    instances.clear(tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_select_without_saved_layout_is_plain_stack(tmp_path: Path) -> None:
    _, components, layout = instances.select(_config(tmp_path), None, {})

    assert layout is None
    assert [c.name for c in components][-1] == "service"


def test_select_reuses_saved_layout(tmp_path: Path) -> None:
    instances.save_layout(tmp_path, instances.Layout((9101, 9102)))

    scaled, components, layout = instances.select(_config(tmp_path), None, {})

    assert layout == instances.Layout((9101, 9102))
    assert [c.name for c in components][-3:] == ["service-1", "service-2", "nginx"]
    assert scaled.ports["FLUX_SERVICE_INSTANCE_PORTS[2]"] == 9102


def test_select_rejects_other_count_while_saved(tmp_path: Path) -> None:
    instances.save_layout(tmp_path, instances.Layout((8001, 8002)))

    with pytest.raises(FluxError, match="stack down"):
        instances.select(_config(tmp_path), 3, {})


def test_instance_gets_proxy_and_key(tmp_path: Path) -> None:
    layout = instances.Layout((9101, 9102))
    settings = instances.scaled(_config(tmp_path), layout)
    first = instances.components(layout)[-3]

    environ = first.environ(settings)

    assert environ["FLUX_TRUSTED_PROXIES"] == "127.0.0.1/32"
    assert environ["FLUX_SECURITY_HMAC_KEY"] == instances.hmac_key(tmp_path)
    assert "9101" in first.command(settings, {"otelcol-flux": Path(), "jaeger": Path()})


def test_local_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    settings = instances.scaled(_config(tmp_path), instances.Layout((9101, 9102)))
    conf = instances.write_nginx_config(settings, instances.Layout((9101, 9102)))

    result = subprocess.run(
        [
            str(instances.nginx_binary()),
            "-t",
            "-p",
            str(conf.parent),
            "-c",
            str(conf),
            "-e",
            "stderr",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_nginx_replaces_forwarded_for() -> None:
    text = nginx.render_config(nginx.NginxLayout("8000", ["a:1"], "/p", "/a", "stderr", "/t"))

    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "$proxy_add_x_forwarded_for" not in text
