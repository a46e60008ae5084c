"""`drumbeat migrate`: bring the database schema up to date (Alembic `upgrade head`)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from bot import db
from bot.cli.common import (
    cannot_reach,
    connection_failed,
    console,
    database_url,
    err_console,
    print_error,
)
from metrics.store import redacted


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Run the Alembic migrations against DRUMBEAT_DATABASE_URL (or --database-url).",
    )
    parser.add_argument("--database-url", type=database_url, help="override DRUMBEAT_DATABASE_URL")
    parser.add_argument(
        "--revision", help="target revision (default: head; required with --downgrade)"
    )
    parser.add_argument(
        "--downgrade",
        action="store_true",
        help="downgrade to --revision instead ('base': drop every table)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    url: str = args.database_url or args.settings.database_url
    if args.downgrade and not args.revision:
        print_error(
            "--downgrade needs --revision: 'base' to drop every table, or the revision to go "
            "back to"
        )
        return 2
    try:
        if args.downgrade:
            db.downgrade(url, args.revision)
        else:
            db.upgrade(url, args.revision or "head")
    except Exception as exc:  # a CLI boundary: report, do not trace back
        if connection_failed(exc):
            print_error(cannot_reach(url, exc))
            return 1
        err_console.print(
            f"[red]migration failed on {escape(redacted(url))}:[/] {escape(str(exc))}"
        )
        return 1
    revision = db.current_revision(url)
    at = f"at revision {revision}" if revision else "empty (no revision)"
    console.print(f"schema {at} on {redacted(url)}", markup=False)
    return 0
