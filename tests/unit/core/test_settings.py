"""The settings table: parsing, strict errors and the logged, counted fallback."""

from __future__ import annotations

import logging

import pytest

from otel_flux import settings
from otel_flux.errors import ConfigError
from otel_flux.instrumentation import config as instrumentation_config


def test_default_when_unset() -> None:
    assert settings.REDIS_URL.read({}) == "redis://127.0.0.1:6379/0"


def test_strict_error_names_variable_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as caught:
        settings.REDIS_URL.read_strict({"FLUX_REDIS_URL": "http://cache:6379"})

    message = str(caught.value)

    assert "FLUX_REDIS_URL" in message
    assert "http://cache:6379" in message
    assert "redis://" in message


def test_invalid_value_logged_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"FLUX_CLIENT_ADDRESS": "everything"}
    before = settings.invalid_values["FLUX_CLIENT_ADDRESS"]

    with caplog.at_level(logging.WARNING, logger="otel_flux.settings"):
        first = instrumentation_config.CLIENT_ADDRESS.read(environ)
        second = instrumentation_config.CLIENT_ADDRESS.read(environ)

    assert first == "truncated"
    assert second == "truncated"
    assert settings.invalid_values["FLUX_CLIENT_ADDRESS"] == before + 2
    assert len([r for r in caplog.records if "FLUX_CLIENT_ADDRESS" in r.message]) == 1


def test_secret_value_masked_in_error() -> None:
    secret = settings.define(
        "FLUX_TEST_SECRET_SETTING",
        0,
        settings.int_parser(),
        accepted="an integer",
        doc="test only",
        group="test",
        secret=True,
    )

    with pytest.raises(ConfigError) as caught:
        secret.read_strict({"FLUX_TEST_SECRET_SETTING": "s3cret-token"})

    assert "s3cret-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.0/8", 1), ("10.0.0.1, 2001:db8::/32", 2), ("", 0)],
)
def test_cidr_list(text: str, expected: int) -> None:
    assert len(settings.TRUSTED_PROXIES.read_strict({"FLUX_TRUSTED_PROXIES": text})) == expected


def test_cidr_list_rejects_hostnames() -> None:
    with pytest.raises(ConfigError, match=r"proxy\.local"):
        settings.TRUSTED_PROXIES.read_strict({"FLUX_TRUSTED_PROXIES": "proxy.local"})


def test_every_setting_documented() -> None:
    table = settings.all_settings()

    assert len(table) >= 5
    assert all(s.env.startswith("FLUX_") for s in table)
    assert all(s.doc and s.accepted for s in table)
