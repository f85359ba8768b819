"""Checks of the standard ``OTEL_*`` variables that otel_flux relies on.

The SDK rejects some invalid values by raising during set-up, which under
``opentelemetry-instrument`` leaves the service running with no telemetry at all.
:func:`drop_invalid` runs before the SDK is configured: it logs each invalid
value once, naming the variable, the value and what is accepted, and removes it
from the environment so the SDK uses its specified default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_logger = logging.getLogger(__name__)

GRPC_PORT = 4317
HTTP_PORT = 4318

_PROTOCOLS = ("grpc", "http/protobuf", "http/json")
_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_TRACE_EXPORTERS = ("otlp", "console", "none", "zipkin")
_METRIC_EXPORTERS = ("otlp", "console", "none", "prometheus")
_LOG_EXPORTERS = ("otlp", "console", "none")


@dataclass(frozen=True, slots=True)
class Problem:
    """An invalid or inconsistent value."""

    variable: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"invalid value {self.value!r} for {self.variable}: {self.message}"


def _non_negative_int(text: str) -> str | None:
    try:
        return None if int(text) >= 0 else "expected a non-negative integer"
    except ValueError:
        return "expected a non-negative integer"


def _positive_int(text: str) -> str | None:
    try:
        return None if int(text) > 0 else "expected a positive integer"
    except ValueError:
        return "expected a positive integer"


def _choice(*choices: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        if text.strip().lower() in choices:
            return None
        return f"expected one of {', '.join(choices)}"

    return check


def _exporter_list(*choices: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        unknown = [part for part in text.split(",") if part.strip().lower() not in choices]
        if not unknown:
            return None
        return f"expected a comma-separated list of {', '.join(choices)}"

    return check


def _ratio(text: str) -> str | None:
    try:
        value = float(text)
    except ValueError:
        return "expected a number from 0 to 1"
    return None if 0.0 <= value <= 1.0 else "expected a number from 0 to 1"


def _url(text: str) -> str | None:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL such as http://127.0.0.1:4317"
    try:
        parts.port  # noqa: B018 - property access validates the port
    except ValueError:
        return "the port is not a number from 0 to 65535"
    return None


def _key_value_list(text: str) -> str | None:
    for item in text.split(","):
        if item.strip() and "=" not in item:
            return "expected comma-separated key=value pairs"
    return None


CHECKS: dict[str, Callable[[str], str | None]] = {
    "OTEL_EXPORTER_OTLP_PROTOCOL": _choice(*_PROTOCOLS),
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": _choice(*_PROTOCOLS),
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": _choice(*_PROTOCOLS),
    "OTEL_EXPORTER_OTLP_ENDPOINT": _url,
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": _url,
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": _url,
    "OTEL_EXPORTER_OTLP_TIMEOUT": _positive_int,
    "OTEL_EXPORTER_OTLP_HEADERS": _key_value_list,
    "OTEL_RESOURCE_ATTRIBUTES": _key_value_list,
    "OTEL_TRACES_EXPORTER": _exporter_list(*_TRACE_EXPORTERS),
    "OTEL_METRICS_EXPORTER": _exporter_list(*_METRIC_EXPORTERS),
    "OTEL_LOGS_EXPORTER": _exporter_list(*_LOG_EXPORTERS),
    "OTEL_TRACES_SAMPLER": _choice(*_SAMPLERS),
    "OTEL_TRACES_SAMPLER_ARG": _ratio,
    "OTEL_BSP_SCHEDULE_DELAY": _non_negative_int,
    "OTEL_BSP_EXPORT_TIMEOUT": _non_negative_int,
    "OTEL_BSP_MAX_QUEUE_SIZE": _positive_int,
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": _positive_int,
    "OTEL_METRIC_EXPORT_INTERVAL": _positive_int,
    "OTEL_METRIC_EXPORT_TIMEOUT": _non_negative_int,
}

# Variables whose value is masked wherever otel_flux prints it.
SECRET_VARIABLES = frozenset(
    {
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    }
)


def effective_protocol(signal: str, environ: MutableMapping[str, str]) -> str:
    specific = environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", "").strip()
    return specific or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip() or "grpc"


def effective_endpoint(signal: str, environ: MutableMapping[str, str]) -> str:
    specific = environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "").strip()
    if specific:
        return specific
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return base
    if effective_protocol(signal, environ) == "grpc":
        return f"http://localhost:{GRPC_PORT}"
    return f"http://localhost:{HTTP_PORT}"


def find_problems(environ: MutableMapping[str, str] | None = None) -> list[Problem]:
    """Return every invalid OTEL_* value and every endpoint/protocol mismatch."""
    env = os.environ if environ is None else environ
    problems = []
    for variable, check in CHECKS.items():
        value = env.get(variable)
        if value is None or not value.strip():
            continue
        message = check(value.strip())
        if message is not None:
            shown = "***" if variable in SECRET_VARIABLES else value
            problems.append(Problem(variable, shown, message))
    # Traces and metrics usually share one endpoint; report such a mismatch once.
    for problem in _port_mismatches(env):
        if problem not in problems:
            problems.append(problem)
    return problems


def _port_mismatches(env: MutableMapping[str, str]) -> list[Problem]:
    problems = []
    for signal in ("TRACES", "METRICS"):
        protocol = effective_protocol(signal, env)
        endpoint = effective_endpoint(signal, env)
        try:
            port = urlsplit(endpoint).port
        except ValueError:
            continue
        variable = (
            f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"
            if env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
            else "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        if port == GRPC_PORT and protocol.startswith("http/"):
            problems.append(
                Problem(
                    variable,
                    endpoint,
                    f"port {GRPC_PORT} is the OTLP/gRPC port but the protocol is {protocol}; "
                    f"use port {HTTP_PORT} or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
                )
            )
        elif port == HTTP_PORT and protocol == "grpc":
            problems.append(
                Problem(
                    variable,
                    endpoint,
                    f"port {HTTP_PORT} is the OTLP/HTTP port but the protocol is grpc; "
                    f"use port {GRPC_PORT} or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                )
            )
    return problems


def drop_invalid(environ: MutableMapping[str, str] | None = None) -> list[Problem]:
    """Log each invalid OTEL_* value once and remove it so the SDK default applies.

    Endpoint/protocol mismatches are logged but left in place: the user's endpoint
    may be a proxy on a non-standard mapping, and guessing would be worse.
    """
    env = os.environ if environ is None else environ
    problems = find_problems(env)
    for problem in problems:
        if problem.variable in CHECKS and CHECKS[problem.variable](
            env.get(problem.variable, "").strip()
        ):
            env.pop(problem.variable, None)
            _logger.warning("%s; using the SDK default", problem)
        else:
            _logger.warning("%s", problem)
    return problems
