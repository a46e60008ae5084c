"""Subcommands whose implementation arrives with a later issue.

They are listed so the CLI surface is stable, and each says plainly which piece of work
brings it and exits 1: never a silent no-op.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import err_console

PENDING: dict[str, tuple[str, str]] = {
    "sync": (
        "pull CRM data into the store (incremental; --full to start over)",
        "the CRM data issue (#4)",
    ),
    "run": ("run the bot: Slack app, scheduler and outbox sender", "the Slack surface issue (#3)"),
    "demo": (
        "seed a demo org and run everything against the local Slack sandbox",
        "the demo issue (#11)",
    ),
    "preview": ("print what a rhythm would send, without sending", "the rhythm engine issue (#6)"),
    "metric": ("look up a metric for a person, team or the org", "the commands issue (#10)"),
}


def register(sub: Any) -> None:
    for name, (summary, issue) in PENDING.items():
        parser: argparse.ArgumentParser = sub.add_parser(
            name,
            help=f"{summary} [not built yet]",
            description=f"{summary}. Not built yet: arrives with {issue}.",
        )
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(handler=_pending(name, issue))


def _pending(name: str, issue: str) -> Any:
    def handler(_args: argparse.Namespace) -> int:
        err_console.print(f"[yellow]drumbeat {name}[/] is not built yet: it arrives with {issue}.")
        return 1

    return handler
