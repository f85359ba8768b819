"""Settings of the flux-auth sample service."""

from __future__ import annotations

from otel_flux.settings import define, int_parser, parse_bool

SCRYPT_COST = define(
    "FLUX_DEMO_SCRYPT_COST",
    14,
    int_parser(minimum=10, maximum=20),
    accepted="an integer from 10 to 20",
    doc=(
        "log2 of the scrypt CPU/memory cost N used for demo passwords; 14 takes about "
        "40 ms per hash, lower it only for load tests."
    ),
    group="demo",
)

SESSION_TTL_S = define(
    "FLUX_DEMO_SESSION_TTL_S",
    3600,
    int_parser(minimum=60, maximum=86400 * 30),
    accepted="an integer number of seconds from 60 to 2592000",
    doc="Lifetime of a session token issued by the sample service's login.",
    group="demo",
)

SECURITY_ENABLED = define(
    "FLUX_DEMO_SECURITY",
    True,
    parse_bool,
    accepted="true or false",
    doc="Put the otel_flux security middleware in front of the sample service.",
    group="demo",
)
