"""What `drumbeat run` checks before it serves, so a bad setup stops it at start with one
line instead of a bot that says "listening" and then cannot read its store, cannot post to
Slack, or logs a traceback at every scheduled CRM sync."""

from __future__ import annotations

import datetime as dt
import logging

from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import cannot_reach
from bot.cli.sync import connector_from_settings
from bot.failures import AUTH_ERRORS, is_global
from bot.settings import Settings, secret_value, setting_source
from bot.slack_client import make_http_session, make_slack_client
from metrics.crm.errors import CrmConfigError
from metrics.store import make_engine
from rhythms.config import OrgConfig

log = logging.getLogger(__name__)


def database_problem(url: str) -> str | None:
    """None when one ``SELECT 1`` on `url` works, else why not: the URL without secrets,
    the error's class and the first line of the driver's message with the password (and
    any URL or ``password=`` in it) hidden. A host that never answers fails within the
    connect timeout (`metrics.store.PG_CONNECT_TIMEOUT`, or the URL's ``connect_timeout``)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return cannot_reach(url, exc)
    finally:
        engine.dispose()
    return None


SLACK_TOKENS = {"slack_bot_token": "the Slack bot token", "slack_app_token": "the Slack app token"}


def slack_token_problem(settings: Settings) -> str | None:
    """A Slack token no HTTP header can carry (a space, control or non-ASCII character in
    it: a bad copy), named with its variable, never its value; None when none is."""
    for field, what in SLACK_TOKENS.items():
        token = (secret_value(getattr(settings, field)) or "").strip()
        if not all(" " < ch < "\x7f" for ch in token):
            return (
                f"{what} ({setting_source(field)}) contains a space, control or non-ASCII "
                "character; copy it again"
            )
    return None


async def slack_auth_problem(settings: Settings) -> str | None:
    """None when Slack's ``auth.test`` accepts the bot token, else one line naming the
    error, the variable and the fix (never the token); a malformed token is refused before
    asking (`slack_token_problem`). Slack unreachable or answering 5xx is not a problem
    here: it is logged and the sender copes with outages."""
    if problem := slack_token_problem(settings):
        return problem
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
