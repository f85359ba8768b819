"""Security settings: defaults, parsing and error messages."""

from __future__ import annotations

import pytest

from otel_flux.errors import ConfigError
from otel_flux.security import config
from otel_flux.security.config import SecurityConfig


def test_defaults_without_environment() -> None:
    """With no variables set, the documented defaults apply."""
    parsed = SecurityConfig.from_env({})

    assert parsed.login_routes == (("POST", "/api/auth/login"),)
    assert parsed.brute_force_threshold == 5
    assert parsed.login_failure_statuses == frozenset({401})
    assert parsed.on_redis_error == "allow"
    assert parsed.login_on_redis_error == "reject"
    assert parsed.hmac_key is None


def test_values_parsed_from_environment() -> None:
    """Each variable sets its field."""
    parsed = SecurityConfig.from_env(
        {
            "FLUX_SECURITY_LOGIN_ROUTES": "post /login, PUT /session",
            "FLUX_RATE_LIMIT_LIMIT": "7",
            "FLUX_SECURITY_LOGIN_FAILURE_STATUSES": "401,403",
            "FLUX_SECURITY_HMAC_KEY": "k",
            "FLUX_TRUSTED_PROXIES": "10.0.0.0/8",
        }
    )

    assert parsed.login_routes == (("POST", "/login"), ("PUT", "/session"))
    assert parsed.rate_limit == 7
    assert parsed.login_failure_statuses == frozenset({401, 403})
    assert parsed.hmac_key == b"k"
    assert len(parsed.trusted_proxies) == 1


@pytest.mark.parametrize(
    ("setting", "text", "reason"),
    [
        (config.LOGIN_ROUTES, "/login", "not of the form"),
        (config.LOGIN_ROUTES, "FETCH /login", "not an HTTP method"),
        (config.LOGIN_ROUTES, "POST login", "does not start with"),
        (config.RATE_LIMIT, "0", "below the minimum"),
        (config.RATE_LIMIT_WINDOW, "soon", "not a number"),
        (config.LOGIN_FAILURE_STATUSES, "200", "below the minimum"),
        (config.ON_REDIS_ERROR, "maybe", "expected allow or reject"),
        (config.BAN_JITTER, "2", "above the maximum"),
    ],
)
def test_invalid_value_names_variable(setting: object, text: str, reason: str) -> None:
    """An invalid value raises ConfigError naming the variable, the value and why."""
    env = setting.env  # type: ignore[attr-defined]

    with pytest.raises(ConfigError) as caught:
        setting.read_strict({env: text})  # type: ignore[attr-defined]

    message = str(caught.value)
    assert env in message
    assert repr(text) in message
    assert reason in message


def test_secret_value_hidden_in_error() -> None:
    """The HMAC key is a secret, so an error never shows it."""
    assert config.HMAC_KEY.secret


def test_invalid_value_falls_back_to_default() -> None:
    """A running service logs an invalid value and uses the default."""
    parsed = SecurityConfig.from_env({"FLUX_RATE_LIMIT_LIMIT": "lots"})

    assert parsed.rate_limit == config.RATE_LIMIT.default
