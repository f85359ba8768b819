"""The ``otel-flux`` command.

Each subcommand group lives next to the code it drives and exposes
``register(subparsers)``; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Modules that add subcommands; each has register(subparsers) and sets
# ``func`` on its parsers through set_defaults(func=...).
_COMMAND_MODULES = (
    "otel_flux.stack.commands",
    "otel_flux.check_config",
    "otel_flux.alerts.commands",
    "otel_flux.report",
    "otel_flux.security.commands",
    "otel_flux.load.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-flux",
        description="Run and inspect the otel_flux telemetry pipeline.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        result: int = func(args)
    except BrokenPipeError:
        # The reader went away (`otel-flux security bans | head`); stop quietly.
        sys.stderr.close()
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
