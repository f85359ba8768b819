"""``otel-flux check-config``: validate the settings and print the effective configuration."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from otel_flux import otel_env
from otel_flux.errors import ConfigError
from otel_flux.reference import render_reference
from otel_flux.settings import all_settings, format_value

_SHOWN_OTEL = (
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_METRIC_EXPORT_INTERVAL",
)


def mask_url(url: str) -> str:
    """Replace the password of a URL with ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))


def endpoint_answers(url: str, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_check(connect: bool, out: TextIO) -> int:
    errors: list[str] = []
    rows: list[tuple[str, str, str]] = []

    for setting in all_settings():
        try:
            value: Any = setting.read_strict()
            shown = format_value(value)
        except ConfigError as exc:
            value = None
            errors.append(str(exc))
            shown = (
                f"{setting.format_default()} (invalid value rejected, the service uses the default)"
            )
        if setting.secret and setting.raw() is not None:
            shown = "***"
        elif isinstance(value, str) and "://" in value:
            shown = mask_url(value)
        source = "set" if setting.raw() is not None else "default"
        rows.append((setting.env, shown, source))

    for name in _SHOWN_OTEL:
        raw = os.environ.get(name)
        if raw is None:
            continue
        shown = "***" if name in otel_env.SECRET_VARIABLES else raw
        rows.append((name, shown, "set"))
    errors.extend(str(problem) for problem in otel_env.find_problems())

    width = max(len(name) for name, _, _ in rows)
    out.write("Effective configuration (secrets masked):\n")
    for name, shown, source in rows:
        out.write(f"  {name:<{width}}  {shown}  ({source})\n")

    if connect:
        for signal in ("TRACES", "METRICS"):
            exporters = os.environ.get(f"OTEL_{signal}_EXPORTER", "otlp")
            if "otlp" not in exporters:
                continue
            endpoint = otel_env.effective_endpoint(signal, os.environ)
            if endpoint_answers(endpoint):
                out.write(f"OTLP {signal.lower()} endpoint {endpoint} answers\n")
            else:
                errors.append(
                    f"nothing answers at the OTLP {signal.lower()} endpoint {endpoint}; start "
                    "the Collector (otel-flux stack up) or set OTEL_EXPORTER_OTLP_ENDPOINT"
                )

    if errors:
        out.write(f"\n{len(errors)} error(s):\n")
        for error in errors:
            out.write(f"  - {error}\n")
        return 1
    out.write("\nNo errors.\n")
    return 0


def _command(args: argparse.Namespace) -> int:
    if args.reference:
        sys.stdout.write(render_reference())
        return 0
    return run_check(connect=not args.no_connect, out=sys.stdout)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate FLUX_* and OTEL_* settings and print the effective configuration",
        description=(
            "Validate every FLUX_* and OTEL_* setting that applies, print the effective "
            "configuration with secrets masked, check that the OTLP endpoint matches its "
            "protocol and answers. Exits 1 on any error."
        ),
    )
    parser.add_argument(
        "--no-connect",
        action="store_true",
        help="skip the check that the OTLP endpoints accept connections",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="print the Markdown reference of every FLUX_* setting instead of checking",
    )
    parser.set_defaults(func=_command)
