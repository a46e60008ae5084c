"""`drumbeat deliveries retry`: give dead (and, if asked, expired) deliveries back to the
sender, after fixing what killed them (a token, a channel invite, a long outage).

    drumbeat deliveries retry [--rhythm NAME] [--since 2026-12-01|24h|7d] [--expired]
                              [--expires-in 120] [--dry-run]

Requeued rows are pending at once, with a fresh attempt count and a new expiry
(`--expires-in` minutes from now, default 120), so a running `drumbeat run` sends them
within a second or so. A message whose last send may have reached Slack (an
``unconfirmed`` error) is looked up in Slack before it is posted again. Ephemerals whose
outcome is unknown are never requeued (at most once).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import Any

from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from bot import delivery_claims as claims
from bot.cli.common import console, database_error, err_console, open_session
from bot.settings import Settings
from metrics.clock import SystemClock

_AGO = re.compile(r"^(\d+)\s*([hd])$")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "deliveries",
        help="inspect and requeue outbox deliveries",
        description="Outbox deliveries.",
    )
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    retry = what.add_parser(
        "retry",
        help="requeue dead (and with --expired, expired) deliveries",
        description=(
            "Give dead deliveries (and, with --expired, expired ones) back to the sender: "
            "pending now, with a new expiry."
        ),
    )
    retry.add_argument("--rhythm", help="only this rhythm")
    retry.add_argument(
        "--since",
        type=since_value,
        help="only rows written since: an ISO date/time (UTC unless it has an offset), "
        "or NUMBER h|d ago (24h, 7d)",
    )
    retry.add_argument("--expired", action="store_true", help="expired rows too")
    retry.add_argument(
        "--expires-in",
        type=int,
        default=120,
        help="minutes the requeued rows stay worth sending (default 120)",
    )
    retry.add_argument("--dry-run", action="store_true", help="list, change nothing")
    retry.set_defaults(handler=run_retry)


def since_value(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """`24h`, `7d` (before now) or an ISO date/time (naive: UTC)."""
    text = text.strip()
    if match := _AGO.match(text):
        amount, unit = int(match.group(1)), match.group(2)
        delta = dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(days=amount)
        return (now or SystemClock().now()) - delta
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected an ISO date/time (2026-12-01, 2026-12-01T09:00) or 24h/7d"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def run_retry(args: argparse.Namespace) -> int:
    if args.expires_in < 1:
        err_console.print("[red]--expires-in must be at least 1 (minutes)[/]")
        return 2
    settings: Settings = args.settings
    now = SystemClock().now()
    statuses = ("dead", "expired") if args.expired else ("dead",)
    try:
        with open_session(settings) as session, session.begin():
            rows = claims.requeue(
                session,
                now=now,
                expires_at=now + dt.timedelta(minutes=args.expires_in),
                statuses=statuses,
                rhythm=args.rhythm,
                since=args.since,
                dry_run=args.dry_run,
            )
    except SQLAlchemyError as exc:
        return database_error(settings, exc)
    for delivery_id, rhythm, recipient, error in rows[:50]:
        console.print(
            f"  {delivery_id}  {escape(rhythm)} → {escape(recipient)}  ({escape(error or '-')})"
        )
    if len(rows) > 50:
        console.print(f"  … and {len(rows) - 50} more")
    verb = "would requeue" if args.dry_run else "requeued"
    console.print(f"{verb} {len(rows)} deliver{'y' if len(rows) == 1 else 'ies'}")
    return 0
