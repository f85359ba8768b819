"""``otel-flux load SCENARIO``: run a load scenario against the sample service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from otel_flux import settings
from otel_flux.errors import FluxError
from otel_flux.load import runner, scenarios
from otel_flux.security import config as security_config

_DEFAULT_URL = "http://127.0.0.1:8000"


def register(subparsers: Any) -> None:
    """Add the ``load`` command to the otel-flux argument parser."""
    described = "; ".join(f"{s.name}: {s.description}" for s in scenarios.SCENARIOS.values())
    parser = subparsers.add_parser(
        "load",
        help="run a load scenario with Locust against the sample service",
        description=f"Run a scenario headless with Locust and judge it. Scenarios: {described}. "
        "Exit status 0 when every check passes, 1 when one fails, 2 when it could not run.",
    )
    parser.add_argument("scenario", choices=list(scenarios.SCENARIOS), help="scenario to run")
    parser.add_argument(
        "--url", default=_DEFAULT_URL, help=f"sample service on loopback (default {_DEFAULT_URL})"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply users, attackers and request rate by this factor (default 1, full size)",
    )
    parser.add_argument(
        "--duration", type=float, help="run time in seconds (default: the scenario's own)"
    )
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="folder for reports (default results)"
    )
    parser.add_argument(
        "--redis-url",
        help="Redis of the service, for the ban checks (default FLUX_REDIS_URL)",
    )
    parser.set_defaults(func=_load)


def _load(args: argparse.Namespace) -> int:
    try:
        scenario = scenarios.get(args.scenario).scaled(args.scale, args.duration)
        summary = runner.run(
            scenario,
            args.url.rstrip("/"),
            args.results,
            redis_url=args.redis_url or settings.REDIS_URL.read(),
            key_prefix=security_config.KEY_PREFIX.read(),
            brute_force_threshold=security_config.BRUTE_FORCE_THRESHOLD.read(),
        )
    except (FluxError, ValueError) as exc:
        print(f"otel-flux load: {exc}", file=sys.stderr)
        return 2
    print(runner.format_summary(summary))
    return 0 if summary.passed else 1
