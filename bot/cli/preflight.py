"""What `drumbeat run` checks before it serves, so a bad setup stops it at start with one
line instead of a bot that says "listening" and then cannot read its store, cannot post to
Slack, or logs a traceback at every scheduled CRM sync."""

from __future__ import annotations

import datetime as dt
import logging
import re

from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.cli.sync import connector_from_settings
from bot.failures import AUTH_ERRORS, is_global
from bot.settings import Settings
from bot.slack_client import make_http_session, make_slack_client
from metrics.crm.errors import CrmConfigError
from metrics.store import HIDDEN, make_engine, redacted
from rhythms.config import OrgConfig

log = logging.getLogger(__name__)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_PASSWORD_PAIR = re.compile(r"(?i)(password\s*=\s*)(\'[^\']*\'|\"[^\"]*\"|\S+)")


def database_problem(url: str) -> str | None:
    """None when one ``SELECT 1`` on `url` works, else why not: the URL without secrets,
    the error's class and the first line of the driver's message with the password (and
    any URL or ``password=`` in it) hidden."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = safe_reason(exc, url)
        return f"cannot reach {redacted(url)}: {type(exc).__name__}" + (
            f": {reason}" if reason else ""
        )
    finally:
        engine.dispose()
    return None


def safe_reason(exc: BaseException, url: str) -> str:
    """The first line of the driver's message, at most 200 characters, with the password of
    `url`, every URL and every ``password=…`` in it hidden (a driver may quote them)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    line = lines[0] if lines else ""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        line = line.replace(str(password), HIDDEN)
    line = _URL_IN_TEXT.sub(lambda m: redacted(m.group(0)), line)
    line = _PASSWORD_PAIR.sub(lambda m: m.group(1) + HIDDEN, line)
    return line[:200]


async def slack_auth_problem(settings: Settings) -> str | None:
    """None when Slack's ``auth.test`` accepts the bot token, else one line naming the
    error and the fix (never the token). Slack unreachable or answering 5xx is not a
    problem here: it is logged and the sender copes with outages."""
    session = make_http_session(timeout=15)
    try:
        client = make_slack_client(settings, session=session)
        try:
            await client.auth_test()
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = str(data.get("error") or f"http_{exc.response.status_code}")
            if is_global(error):
                return f"Slack refuses SLACK_BOT_TOKEN ({error}): {AUTH_ERRORS[error]}"
            log.warning("could not check the bot token (auth.test: %s); starting anyway", error)
        except Exception as exc:  # unreachable, timeout: not a reason to refuse to start
            log.warning(
                "could not check the bot token (auth.test: %s); starting anyway",
                type(exc).__name__,
            )
    finally:
        await session.close()
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
