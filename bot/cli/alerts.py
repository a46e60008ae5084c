"""`drumbeat alerts log`: alert firings, acknowledgements, snoozes and resolutions."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import console, database_error, err_console, open_session
from bot.settings import Settings
from rhythms.alert_state import history


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "alerts",
        help="alert history",
        description="Inspect threshold alerts.",
    )
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    log = what.add_parser(
        "log",
        help="firings, acks, snoozes and resolutions, newest first",
        description="Alert history, newest first.",
    )
    log.add_argument("--rule", help="only this rule")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--json", action="store_true", help="one JSON object per line")
    log.set_defaults(handler=run_log)


def run_log(args: argparse.Namespace) -> int:
    if args.limit < 1:
        err_console.print("[red]--limit must be at least 1[/]")
        return 2
    settings: Settings = args.settings
    try:
        with open_session(settings) as session:
            events = history(session, limit=args.limit, rule=args.rule)
    except SQLAlchemyError as exc:
        return database_error(settings, exc)
    if args.json:
        for e in events:
            console.print(
                json.dumps(
                    {
                        "at": e.at.isoformat(),
                        "rule": e.rule,
                        "subject": e.subject,
                        "event": e.event,
                        "actor": e.actor,
                        "detail": e.detail,
                    }
                ),
                markup=False,
            )
        return 0
    if not events:
        console.print("no alert events recorded yet")
        return 0
    table = Table("at (UTC)", "rule", "subject", "event", "by", "detail")
    for e in events:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M}",
            *(
                escape(cell)
                for cell in (
                    e.rule,
                    e.subject,
                    e.event,
                    e.actor or "",
                    json.dumps(e.detail) if e.detail else "",
                )
            ),
        )
    console.print(table)
    return 0
