"""Settings of the HTTP server and Redis instrumentation."""

from __future__ import annotations

import os
import re

from otel_flux.settings import Setting, define, parse_bool, parse_csv

EXCLUDED_PATHS: Setting[tuple[str, ...]] = define(
    "FLUX_EXCLUDED_PATHS",
    ("/health", "/healthz", "/livez", "/readyz"),
    parse_csv,
    accepted="a comma-separated list of exact URL paths",
    doc=(
        "Request paths that produce no span and no metric, such as health checks. "
        "OTEL_PYTHON_ASGI_EXCLUDED_URLS and OTEL_PYTHON_EXCLUDED_URLS regexes apply too."
    ),
    group="instrumentation",
)


def _parse_address_mode(text: str) -> str:
    mode = text.lower()
    if mode not in ("truncated", "full", "off"):
        raise ValueError("use truncated, full or off")
    return mode


CLIENT_ADDRESS = define(
    "FLUX_CLIENT_ADDRESS",
    "truncated",
    _parse_address_mode,
    accepted="truncated, full or off",
    doc=(
        "How client.address appears on server spans: truncated to its /24 (IPv4) "
        "or /64 (IPv6) network, the full address, or left out. Metrics never carry it."
    ),
    group="instrumentation",
)


def _parse_path_prefix(text: str) -> str:
    if not text.startswith("/") or text == "/" or any(c.isspace() for c in text):
        raise ValueError("it must start with / and name a path such as /_flux")
    return text.rstrip("/")


ADMIN_PATH = define(
    "FLUX_ADMIN_PATH",
    "/_flux",
    _parse_path_prefix,
    accepted="a URL path prefix starting with /",
    doc="Prefix of the admin endpoints served in front of the app when FLUX_ADMIN_TOKEN is set.",
    group="instrumentation",
)

REDIS_ENABLED = define(
    "FLUX_INSTRUMENT_REDIS",
    True,
    parse_bool,
    accepted="true or false",
    doc="Create client spans and duration metrics for redis-py commands and pipelines.",
    group="instrumentation",
)

SERVER_ENABLED = define(
    "FLUX_INSTRUMENT_SERVER",
    True,
    parse_bool,
    accepted="true or false",
    doc="Wrap the ASGI app that uvicorn loads with the otel_flux server middleware.",
    group="instrumentation",
)

FAST_PATH = define(
    "FLUX_FAST_PATH",
    True,
    parse_bool,
    accepted="true or false",
    doc=(
        "Record otel_flux's spans, duration histograms and security decision counts on "
        "a lean path into the SDK's pipeline: same sampler, limits, processors, readers "
        "and exporters, less CPU per request. false uses the SDK's own spans, histograms "
        "and counter."
    ),
    group="instrumentation",
)

_STANDARD_EXCLUDED_URLS = ("OTEL_PYTHON_ASGI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")


def excluded_url_pattern() -> re.Pattern[str] | None:
    """Compile the standard OTEL_PYTHON_*_EXCLUDED_URLS regexes into one pattern.

    The ASGI-specific variable wins over the generic one, as in the upstream
    instrumentation. An invalid regex is logged by the caller and ignored.
    """
    for name in _STANDARD_EXCLUDED_URLS:
        raw = os.environ.get(name, "").strip()
        if raw:
            parts = [part.strip() for part in raw.split(",") if part.strip()]
            return re.compile("|".join(f"(?:{part})" for part in parts))
    return None
