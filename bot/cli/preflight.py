"""What `drumbeat run` checks before it serves, so a bad setup stops it at start with one
line instead of a bot that says "listening" and then cannot read its store, or that logs a
traceback at every scheduled CRM sync."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.sync import connector_from_settings
from bot.settings import Settings
from metrics.crm.errors import CrmConfigError
from metrics.store import make_engine, redacted
from rhythms.config import OrgConfig


def database_problem(url: str) -> str | None:
    """None when one ``SELECT 1`` on `url` works, else why not (the URL without secrets and
    the error's class: a driver's message may quote the password)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"cannot reach {redacted(url)}: {type(exc).__name__}"
    finally:
        engine.dispose()
    return None


def crm_problem(settings: Settings, org: OrgConfig | None, now: dt.datetime) -> str | None:
    """None when the scheduled CRM sync's connector can be built, or when `run` schedules no
    sync (no org config, or DRUMBEAT_SYNC_MINUTES=0); else what setting is missing."""
    if org is None or settings.sync_minutes == 0:
        return None
    try:
        connector = connector_from_settings(settings, org, source=settings.crm_source, now=now)
    except CrmConfigError as exc:
        return (
            f"cannot sync {settings.crm_source} every {settings.sync_minutes} min: {exc} "
            "(or set DRUMBEAT_SYNC_MINUTES=0)"
        )
    connector.close()
    return None
