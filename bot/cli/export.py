"""`drumbeat export maple --week 2026-W47 --format csv|md`: a week's MAPLE updates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import database_error, err_console, open_session, print_error
from bot.settings import Settings
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
    review = what.add_parser(
        "review",
        help="a month's review pack (PDF)",
        description="Write the month's pack (review, charts, MAPLE updates, emergencies) as "
        "a PDF: the one posted with the review if there is one, else built now.",
    )
    review.add_argument("--month", required=True, help="the reviewed month, e.g. 2026-11")
    review.add_argument("--output", "-o", type=Path, help="file (default drumbeat-pack-MONTH.pdf)")
    review.set_defaults(handler=run_review)


def run_maple(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    try:
        with open_session(settings) as session:
            rows = export_rows(session, rhythm=args.rhythm, period_key=args.week)
    except ValueError as exc:
        print_error(exc)
        return 2
    except SQLAlchemyError as exc:
        return database_error(settings, exc)
    text = to_csv(rows) if args.format == "csv" else to_markdown(rows, period_key=args.week)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {len(rows)} update(s) to {args.output}", markup=False)
    else:
        sys.stdout.write(text)
    return 0


def run_review(args: argparse.Namespace) -> int:
    import base64
    import datetime as dt

    from sqlalchemy import select

    from bot.cli.common import load_config_or_exit
    from rhythms.models import Delivery
    from rhythms.monthly_review import monthly_review
    from rhythms.monthly_review_message import month_pack, review_charts

    try:
        month = dt.datetime.strptime(args.month, "%Y-%m").date()
    except ValueError:
        print_error(f"{args.month!r} is not a month like 2026-11")
        return 2
    settings: Settings = args.settings
    config = load_config_or_exit(None, settings)
    output: Path = args.output or Path(f"drumbeat-pack-{month:%Y-%m}.pdf")
    try:
        with open_session(settings) as session:
            posted = session.scalars(
                select(Delivery)
                .where(
                    Delivery.kind == "upload",
                    Delivery.part == "pack",
                    Delivery.payload["filename"].as_string() == f"drumbeat-pack-{month:%Y-%m}.pdf",
                )
                .order_by(Delivery.id.desc())
            ).first()
            if posted is not None:
                content = base64.b64decode(str(posted.payload["content_base64"]))
                source = "the pack posted with the review"
            else:
                review = monthly_review(session, config=config, month=month)
                content = month_pack(session, review, review_charts(review))
                source = "built now (no review was posted for that month)"
    except SQLAlchemyError as exc:
        return database_error(settings, exc)
    output.write_bytes(content)
    err_console.print(f"wrote {output} ({len(content):,} bytes): {source}", markup=False)
    return 0
