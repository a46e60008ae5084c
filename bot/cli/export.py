"""`drumbeat export maple --week 2026-W47 --format csv|md`: a week's MAPLE updates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import err_console, load_settings
from metrics.store import make_engine, make_session_factory, redacted
from rhythms.maple_export import export_rows, to_csv, to_markdown


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export MAPLE updates (and, with the review issue, monthly reviews)",
        description="Export stored MAPLE updates for an ISO week as CSV or Markdown.",
    )
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    maple = what.add_parser(
        "maple",
        help="a week's MAPLE updates",
        description="Export a week's MAPLE updates (drafts marked).",
    )
    maple.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    maple.add_argument("--format", choices=("csv", "md"), default="md")
    maple.add_argument("--rhythm", default="maple", help="rhythm name (default: maple)")
    maple.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")
    maple.set_defaults(handler=run_maple)


def run_maple(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = export_rows(session, rhythm=args.rhythm, period_key=args.week)
    except ValueError as exc:
        err_console.print(f"[red]{exc}[/]")
        return 2
    except SQLAlchemyError as exc:
        err_console.print(
            f"[red]cannot read {redacted(settings.database_url)}:[/] "
            f"{type(exc).__name__}; run `drumbeat migrate` first"
        )
        return 1
    finally:
        engine.dispose()
    text = to_csv(rows) if args.format == "csv" else to_markdown(rows, period_key=args.week)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {len(rows)} update(s) to {args.output}")
    else:
        sys.stdout.write(text)
    return 0
