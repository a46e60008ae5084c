"""`drumbeat rollups rebuild`: recompute every daily rollup from the stored CRM records.

The repair command for when past days changed without a CRM change: a person's time zone
or team history, the CRM owner ↔ person mapping, or a metric definition in the config.
It first applies the config's directory and owner mapping (as `drumbeat sync` does), then
rebuilds `metric_daily` and clears the dirty marks, all in one transaction (readers keep
the old rollups until it commits). Progress goes to stderr; the summary (rows written,
person-days, records whose owner maps to no person) to stdout. Exit 0 on success, 1 on a
database error, 2 for a bad config.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import (
    console,
    database_error,
    database_url,
    err_console,
    load_config_or_exit,
    open_session,
)
from bot.settings import Settings
from metrics.clock import SystemClock
from metrics.directory import apply_directory, map_crm_owners
from metrics.models import CrmUser
from metrics.rollups import rebuild_rollups


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rollups",
        help="maintain the daily metric rollups (rebuild)",
        description="Maintain the daily metric rollups. `rebuild` recomputes every "
        "(person, metric, day) row from the stored CRM records: run it after changing "
        "people's time zones or teams, the CRM owner mapping or metric definitions.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rebuild = actions.add_parser(
        "rebuild",
        help="recompute all rollups from stored records",
        description="Apply the config's directory and CRM owner mapping, then recompute "
        "all daily rollups and clear the dirty marks, in one transaction.",
    )
    rebuild.add_argument("--config", type=Path, help="org config (default: DRUMBEAT_CONFIG)")
    rebuild.add_argument("--database-url", type=database_url, help="default: DRUMBEAT_DATABASE_URL")
    rebuild.set_defaults(handler=handle_rebuild)


def handle_rebuild(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    config = load_config_or_exit(args.config, settings)
    began = time.perf_counter()

    def progress(step: str) -> None:
        elapsed = time.perf_counter() - began
        print(f"\r\x1b[2K[{elapsed:6.1f}s] {step}", end="", file=sys.stderr, flush=True)

    try:
        with open_session(settings) as session, session.begin():
            today = SystemClock().now().astimezone(ZoneInfo(config.org.timezone)).date()
            progress("applying the directory and CRM owner mapping")
            apply_directory(session, config, today=today)
            for source in session.scalars(select(CrmUser.source).distinct()).all():
                map_crm_owners(session, config, source)
            result = rebuild_rollups(session, config=config, progress=progress)
            progress("committing")
    except SQLAlchemyError as exc:
        print(file=sys.stderr)
        return database_error(settings, exc)
    print(file=sys.stderr)
    seconds = time.perf_counter() - began
    console.print(
        f"rollups rebuilt in {seconds:.1f}s: {result.rows_written:,} rows"
        + ("" if result.rows_changed is None else f" ({result.rows_changed:,} changed)")
        + f", {result.unmapped_records:,} unmapped records"
    )
    if result.unmapped_records:
        err_console.print(
            f"[yellow]{result.unmapped_records:,} record(s) belong to CRM owners that map to "
            "no person[/]: see `drumbeat check-config --crm`."
        )
    return 0
