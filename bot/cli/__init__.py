"""The `drumbeat` command line: one module per subcommand, registered here.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets
``handler`` (a function taking the parsed args and returning an exit code). `main` loads the
settings once for every command (``args.settings``): a bad variable stops any command with
exit 2 before it does anything, and DRUMBEAT_LOG_LEVEL applies everywhere.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.cli import (
    alerts,
    check_config,
    deliveries,
    demo,
    export,
    metric,
    migrate,
    preview,
    rollups,
    run,
    sync,
)
from bot.cli.common import load_settings

# Order here is the order in `drumbeat --help`.
COMMAND_MODULES = (
    migrate,
    check_config,
    sync,
    rollups,
    run,
    demo,
    preview,
    metric,
    export,
    alerts,
    deliveries,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drumbeat",
        description="Drumbeat runs a revenue team's operating rhythms in Slack, from CRM data.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging (over DRUMBEAT_LOG_LEVEL)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = load_settings()
    if settings is None:
        return EXIT_USAGE
    configure_logging("DEBUG" if args.verbose else settings.log_level)
    args.settings = settings
    code: int = args.handler(args)
    return code


def configure_logging(level: str) -> None:
    """Log to stderr at `level`. The root level is set even when logging already has a
    handler (then `basicConfig` alone changes nothing)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)


def entry() -> None:
    sys.exit(main())
