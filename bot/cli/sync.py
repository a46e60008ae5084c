"""`drumbeat sync [--full] [--source NAME]`: pull CRM data into the store.

Loads settings and the org config, applies the directory (people, teams), syncs the
source with a progress display, maps CRM owners to people, and prints a summary per object
(new / updated / deleted / unchanged, problems, missing amounts, duration). Exit 0 when the
sync finished, 1 when it failed part-way (what was stored stays; the next run resumes),
2 for a configuration problem: among them no source named (there is no default) and a
store that holds another source's records (`--add-source` adds this one on purpose).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import (
    cannot_reach,
    connection_failed,
    console,
    database_url,
    err_console,
    load_config_or_exit,
    print_error,
)
from bot.settings import Settings, secret_value, setting_source
from metrics.clock import SystemClock
from metrics.config import CRM_SOURCES
from metrics.crm.csv_source import CsvConnector
from metrics.crm.demo import DemoConnector
from metrics.crm.demo_org import org_from_config
from metrics.crm.engine import ObjectStats, SyncReport
from metrics.crm.errors import CrmConfigError
from metrics.crm.hubspot import HubSpotConnector
from metrics.crm.pipedrive import PipedriveConnector
from metrics.crm.records import Connector
from metrics.crm.salesforce import SalesforceConnector
from metrics.pipeline import PipelineResult, sync_and_roll_up
from metrics.store import make_engine, make_session_factory, redacted
from rhythms.config import OrgConfig


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "sync",
        help="pull CRM data into the store (incremental; --full to start over)",
        description="Pull CRM owners, deals (with stage history) and activities into the "
        "store. Incremental from the last cursor; --full re-reads everything.",
    )
    parser.add_argument("--full", action="store_true", help="ignore cursors, re-read all")
    parser.add_argument("--source", choices=CRM_SOURCES, help="default: DRUMBEAT_CRM_SOURCE")
    parser.add_argument(
        "--add-source",
        action="store_true",
        help="sync this source into a store that holds another's (moving to a new CRM whose "
        "history stays in the old one: numbers then count both)",
    )
    parser.add_argument("--config", type=Path, help="org config (default: DRUMBEAT_CONFIG)")
    parser.add_argument("--database-url", type=database_url, help="default: DRUMBEAT_DATABASE_URL")
    parser.set_defaults(handler=handle)


def connector_from_settings(
    settings: Settings, cfg: OrgConfig, *, source: str, now: dt.datetime
) -> Connector:
    """The connector for `source`, configured from settings; `CrmConfigError` names what is
    missing or malformed and the variable to fix (never a secret's value), and a credential
    the CRM refuses is named with its variable too (`credential_sources`)."""
    currency = cfg.currency.reporting
    if source == "demo":
        return DemoConnector(org_from_config(cfg), end=now)
    if source == "csv":
        if settings.csv_dir is None:
            raise CrmConfigError(
                "set DRUMBEAT_CSV_DIR to the folder holding deals.csv / activities.csv"
            )
        return CsvConnector(settings.csv_dir, default_currency=currency, timezone=cfg.org.timezone)
    if source == "hubspot":
        token = secret_value(settings.hubspot_token)
        if not token:
            raise CrmConfigError("set HUBSPOT_TOKEN (a private app access token)")
        return HubSpotConnector(
            token=token,
            base_url=settings.hubspot_api_url,
            default_currency=currency,
            credential_sources={"token": setting_source("hubspot_token")},
        )
    if source == "salesforce":
        needed = {
            "SALESFORCE_INSTANCE_URL": settings.salesforce_instance_url,
            "SALESFORCE_CLIENT_ID": settings.salesforce_client_id,
            "SALESFORCE_CLIENT_SECRET": secret_value(settings.salesforce_client_secret),
            "SALESFORCE_REFRESH_TOKEN": secret_value(settings.salesforce_refresh_token),
        }
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise CrmConfigError(f"set {', '.join(missing)} for the Salesforce connector")
        return SalesforceConnector(
            instance_url=str(needed["SALESFORCE_INSTANCE_URL"]),
            token_url=settings.salesforce_token_url,
            client_id=str(needed["SALESFORCE_CLIENT_ID"]),
            client_secret=str(needed["SALESFORCE_CLIENT_SECRET"]),
            refresh_token=str(needed["SALESFORCE_REFRESH_TOKEN"]),
            api_version=settings.salesforce_api_version,
            default_currency=currency,
            credential_sources={
                name: setting_source(f"salesforce_{name}")
                for name in ("client_id", "client_secret", "refresh_token")
            },
        )
    if source == "pipedrive":
        token = secret_value(settings.pipedrive_token)
        if not token:
            raise CrmConfigError("set PIPEDRIVE_TOKEN (an API token)")
        return PipedriveConnector(
            token=token,
            base_url=settings.pipedrive_api_url,
            default_currency=currency,
            credential_sources={"token": setting_source("pipedrive_token")},
        )
    raise CrmConfigError(f"unknown CRM source {source!r}: use one of {', '.join(CRM_SOURCES)}")


def handle(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    cfg = load_config_or_exit(args.config, settings)
    from bot.cli.preflight import crm_source_problem, mixed_source_problem  # it imports this

    source = args.source or settings.crm_source
    if source is None:
        print_error(f"cannot sync: {crm_source_problem(source, option='--source')}")
        return 2
    clock = SystemClock()
    try:
        connector = connector_from_settings(settings, cfg, source=source, now=clock.now())
    except CrmConfigError as exc:
        err_console.print(f"[red]cannot sync {escape(str(source))}[/]: {escape(str(exc))}")
        return 2
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        if not args.add_source and (problem := mixed_source_problem(settings.database_url, source)):
            print_error(f"cannot sync: {problem}")
            return 2
        result = _sync_with_progress(connector, factory, clock, cfg, full=args.full)
    except SQLAlchemyError as exc:
        if connection_failed(exc):
            print_error(cannot_reach(settings.database_url, exc))
            return 1
        err_console.print(
            f"[red]database error on {escape(redacted(settings.database_url))}[/]: "
            f"{type(exc).__name__}. "
            "Run `drumbeat migrate` first."
        )
        return 1
    finally:
        connector.close()
        engine.dispose()
    report = result.sync
    _print_summary(report)
    rollups = result.rollups
    if rollups.person_days is None:  # a rebuild
        console.print(f"rollups rebuilt: {rollups.rows_written:,} rows")
    else:
        console.print(
            f"rollups refreshed: {rollups.person_days:,} person-days, {rollups.rows_written:,} rows"
        )
    if result.unmatched_active:
        console.print(
            f"[yellow]{result.unmatched_active} active CRM owner(s) map to no person[/]: "
            "see `drumbeat check-config --crm`."
        )
    return 0 if report.ok else 1


def _sync_with_progress(
    connector: Connector, factory: Any, clock: SystemClock, cfg: OrgConfig, *, full: bool
) -> PipelineResult:
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_page(obj: str, stats: ObjectStats) -> None:
            if obj not in tasks:
                tasks[obj] = progress.add_task(f"{connector.source} {obj}", total=None, detail="")
            progress.update(
                tasks[obj],
                detail=f"{stats.fetched:,} fetched · {stats.new:,} new · {stats.updated:,} updated"
                f" · {stats.pages} page(s)",
            )

        return sync_and_roll_up(
            connector,
            session_factory=factory,
            config=cfg,
            clock=clock,
            full=full,
            progress=on_page,
        )


def _print_summary(report: SyncReport) -> None:
    table = Table(title=f"sync {report.source}{' (full)' if report.full else ''}")
    table.add_column("object", no_wrap=True, min_width=10)
    columns = ("new", "updated", "deleted", "unchanged", "problems", "no amount", "no rate", "secs")
    for column in columns:
        table.add_column(column, justify="right")
    for name, s in report.objects.items():
        table.add_row(
            name,
            f"{s.new:,}",
            f"{s.updated:,}",
            f"{s.deleted:,}",
            f"{s.unchanged:,}",
            f"{s.problems:,}",
            f"{s.missing_amount:,}" if name == "deals" else "",
            f"{s.no_rate:,}" if name == "deals" else "",  # currency without a rate: no revenue
            f"{s.seconds:.1f}",
        )
    console.print(table)
    for name, s in report.objects.items():
        for sample in s.problem_samples[:10]:
            console.print(f"  [yellow]skipped[/] {escape(str(sample))}")
        if s.problems > 10:
            console.print(f"  … and {s.problems - 10} more {name} problem(s)")
    if report.usage:
        usage = ", ".join(f"{k}={v}" for k, v in report.usage.items())
        console.print(f"api: {usage}")
    if report.ok:
        console.print(
            f"[green]ok[/] synced {report.source} in {report.seconds:.1f}s (run {report.run_id})"
        )
    else:
        err_console.print(
            f"[red]sync failed[/] (run {report.run_id}): {escape(str(report.error))}. "
            "What was stored stays; "
            "the next `drumbeat sync` resumes from there."
        )
