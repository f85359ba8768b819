"""Declarative table of the ``FLUX_*`` settings.

Every setting is declared once with :func:`define`: its environment variable, type,
default and documentation. The configuration reference in the README, the
``otel-flux check-config`` command and the error messages all come from that one
table. Modules that own settings declare them at import time;
:func:`all_settings` imports each of those modules so the table is complete.

Two ways to read a setting:

* :meth:`Setting.read` is for a running service. An invalid value is logged once
  (naming the variable, the value and what is accepted), counted in
  :data:`invalid_values`, and the default is used, so a typo never stops the
  service.
* :meth:`Setting.read_strict` raises :class:`~otel_flux.errors.ConfigError`, for
  ``check-config`` and for tests.
"""

from __future__ import annotations

import importlib
import ipaddress
import itertools
import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from otel_flux.errors import ConfigError

_logger = logging.getLogger(__name__)

T = TypeVar("T")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Modules that declare settings; all_settings() imports them to fill the table.
_SETTING_MODULES = (
    "otel_flux.settings",
    "otel_flux.shutdown",
    "otel_flux.instrumentation.config",
    "otel_flux.metrics.config",
    "otel_flux.alerts.thresholds",
    "otel_flux.security.config",
    "otel_flux.demo.config",
    "otel_flux.stack.config",
    "otel_flux.stack.instances",
)

_REGISTRY: dict[str, Setting[Any]] = {}

# Number of times each variable's invalid value was replaced by its default.
invalid_values: Counter[str] = Counter()
_reported: set[tuple[str, str]] = set()


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One environment variable with its parser, default and documentation."""

    env: str
    default: T
    parse: Callable[[str], T]
    accepted: str
    doc: str
    group: str
    secret: bool = False

    def raw(self, environ: Mapping[str, str] | None = None) -> str | None:
        """Return the variable's text, or None when it is unset or blank."""
        value = (os.environ if environ is None else environ).get(self.env)
        if value is None or not value.strip():
            return None
        return value.strip()

    def read_strict(self, environ: Mapping[str, str] | None = None) -> T:
        """Parse the variable, raising ConfigError on an invalid value."""
        text = self.raw(environ)
        if text is None:
            return self.default
        try:
            return self.parse(text)
        except ValueError as exc:
            shown = "***" if self.secret else text
            # A parser's "use ..." reason repeats the accepted values; leave it out.
            reason = "" if str(exc).startswith("use ") else str(exc)
            raise ConfigError(self.env, shown, self.accepted, reason) from None

    def read(self, environ: Mapping[str, str] | None = None) -> T:
        """Parse the variable; on an invalid value log once, count it, use the default."""
        try:
            return self.read_strict(environ)
        except ConfigError as exc:
            invalid_values[self.env] += 1
            key = (self.env, exc.value)
            if key not in _reported:
                _reported.add(key)
                _logger.warning("%s; using the default %s", exc, self.format_default())
            return self.default

    def format_default(self) -> str:
        """Render the default the way a user would type it."""
        return format_value(self.default)


def define(
    env: str,
    default: T,
    parse: Callable[[str], T],
    *,
    accepted: str,
    doc: str,
    group: str,
    secret: bool = False,
) -> Setting[T]:
    """Declare a setting and add it to the table; each variable is declared once."""
    if env in _REGISTRY:
        raise RuntimeError(f"setting {env} is declared twice")
    setting = Setting(env, default, parse, accepted, doc, group, secret)
    _REGISTRY[env] = setting
    return setting


def all_settings() -> list[Setting[Any]]:
    """Return every declared setting, sorted by group and name."""
    for module in _SETTING_MODULES:
        importlib.import_module(module)
    return sorted(_REGISTRY.values(), key=lambda s: (s.group, s.env))


def format_value(value: object) -> str:
    """Render a parsed value as the environment-variable text that produces it."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list | frozenset):
        return ",".join(format_value(item) for item in value) or "(empty)"
    return str(value)


# Parsers. Each raises ValueError with a short reason; Setting adds the variable name.


def parse_str(text: str) -> str:
    return text


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def int_parser(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """Return a parser for an integer within [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("not an integer") from None
        _check_range(value, minimum, maximum)
        return value

    return parse


def float_parser(
    minimum: float | None = None, maximum: float | None = None
) -> Callable[[str], float]:
    """Return a parser for a finite number within [minimum, maximum]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        _check_range(value, minimum, maximum)
        return value

    return parse


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise ValueError(f"{value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{value} is above the maximum {maximum}")


def parse_csv(text: str) -> tuple[str, ...]:
    """Split a comma-separated list, dropping blanks."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_cidr_list(text: str) -> tuple[IPNetwork, ...]:
    """Parse comma-separated CIDR blocks or single addresses."""
    networks = []
    for item in parse_csv(text):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR block") from None
    return tuple(networks)


def parse_redis_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("the scheme must be redis://, rediss:// or unix://")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("the URL has no host")
    return text


def float_list_parser(minimum: float = 0.0) -> Callable[[str], tuple[float, ...]]:
    """Return a parser for a strictly increasing comma-separated list of numbers."""
    parse_one = float_parser(minimum=minimum)

    def parse(text: str) -> tuple[float, ...]:
        values = tuple(parse_one(item) for item in parse_csv(text))
        if not values:
            raise ValueError("the list is empty")
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError("the numbers must be strictly increasing")
        return values

    return parse


# Core settings shared by several parts of the product.

REDIS_URL = define(
    "FLUX_REDIS_URL",
    "redis://127.0.0.1:6379/0",
    parse_redis_url,
    accepted="a redis://, rediss:// or unix:// URL",
    doc="Redis used by the security middleware and the sample service.",
    group="core",
    secret=False,
)

TRUSTED_PROXIES: Setting[tuple[IPNetwork, ...]] = define(
    "FLUX_TRUSTED_PROXIES",
    (),
    parse_cidr_list,
    accepted="a comma-separated list of IP addresses or CIDR blocks",
    doc="Peers whose X-Forwarded-For header is trusted to name the client.",
    group="core",
)

ADMIN_TOKEN = define(
    "FLUX_ADMIN_TOKEN",
    None,
    parse_str,
    accepted="any non-empty string",
    doc="Bearer token for the admin endpoints; they are off while it is unset.",
    group="core",
    secret=True,
)
