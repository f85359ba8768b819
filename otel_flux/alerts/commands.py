"""``otel-flux alerts render``: write the Prometheus rules (and their tests) from the thresholds."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from otel_flux.alerts.render import DEFAULT_FOR, DEFAULT_WINDOW, render_rules
from otel_flux.alerts.scenarios import render_rule_tests
from otel_flux.alerts.thresholds import read_thresholds
from otel_flux.errors import ConfigError

_logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``alerts`` command group to the ``otel-flux`` parser."""
    alerts = subparsers.add_parser("alerts", help="Work with the alert rules.")
    commands = alerts.add_subparsers(dest="alerts_command", metavar="COMMAND", required=True)
    render = commands.add_parser(
        "render",
        help="Render the Prometheus rules from the FLUX_ALERT_* settings.",
        description=(
            "Render Prometheus recording and alerting rules whose thresholds come from "
            "the FLUX_ALERT_* environment variables."
        ),
    )
    render.add_argument(
        "-o", "--output", type=Path, help="rules file to write (default: standard output)"
    )
    render.add_argument(
        "--tests-output",
        type=Path,
        help="also write a promtool test file with traffic around every threshold",
    )
    render.add_argument(
        "--window",
        default=DEFAULT_WINDOW,
        help=f"rate window of the rules, a Prometheus duration (default {DEFAULT_WINDOW})",
    )
    render.add_argument(
        "--for",
        dest="for_",
        default=DEFAULT_FOR,
        help=f"how long a condition must hold before an alert fires (default {DEFAULT_FOR})",
    )
    render.set_defaults(func=run_render)


def run_render(args: argparse.Namespace) -> int:
    try:
        thresholds = read_thresholds(strict=True)
        rules = render_rules(thresholds, args.window, args.for_)
    except (ConfigError, ValueError) as exc:
        print(f"otel-flux alerts render: {exc}", file=sys.stderr)
        return 2

    if args.output is None:
        sys.stdout.write(rules)
    else:
        args.output.write_text(rules, encoding="utf-8")
        _logger.info("wrote %s", args.output)

    if args.tests_output is not None:
        if (args.window, args.for_) != (DEFAULT_WINDOW, DEFAULT_FOR):
            print(
                "otel-flux alerts render: --tests-output needs the default --window and --for",
                file=sys.stderr,
            )
            return 2
        # promtool resolves rule_files relative to the test file's directory.
        rules_path = args.output if args.output is not None else Path("flux-alerts.yml")
        rule_file = os.path.relpath(rules_path.resolve(), args.tests_output.resolve().parent)
        args.tests_output.write_text(render_rule_tests(thresholds, rule_file), encoding="utf-8")
        _logger.info("wrote %s", args.tests_output)
    return 0
