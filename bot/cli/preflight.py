"""What `drumbeat run` (and `sync`, `demo`) check before they serve or write, so a bad setup
stops them at start with one line per problem instead of a bot that says "listening" and
then cannot read its store, cannot post to Slack, logs a traceback at every scheduled CRM
sync, or fills real people's numbers with another CRM's (or the demo's) records."""

from __future__ import annotations

import datetime as dt
import logging
import socket

from slack_sdk.errors import SlackApiError
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import cannot_reach, connection_failed
from bot.cli.sync import connector_from_settings
from bot.failures import AUTH_ERRORS, is_global
from bot.http import port_message
from bot.settings import Settings, secret_value, setting_source
from bot.slack_client import make_http_session, make_slack_client
from metrics.config import CRM_SOURCES
from metrics.crm.errors import CrmConfigError
from metrics.models import Activity, CrmUser, Deal
from metrics.store import make_engine, redacted
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


def slack_settings_problems(settings: Settings) -> list[str]:
    """Every missing or malformed Slack setting at once, one line each (never a value), so
    the admin fixes them in one go before anything asks Slack."""
    problems = []
    if not (secret_value(settings.slack_bot_token) or "").strip():
        problems.append(
            "SLACK_BOT_TOKEN is not set: the app's Bot User OAuth Token (xoxb-…), "
            "from OAuth & Permissions"
        )
    if (
        settings.slack_app_token is None
        and not (secret_value(settings.slack_signing_secret) or "").strip()
    ):
        problems.append(
            "SLACK_SIGNING_SECRET is not set: the app's Signing Secret, from Basic Information "
            "(HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
        )
    if problem := slack_token_problem(settings):
        problems.append(problem)
    return problems


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


def crm_source_problem(source: str | None, *, option: str = "") -> str | None:
    """None when the CRM source was named; else why it must be: there is no default, as the
    demo CRM's made-up numbers must never reach real people (`drumbeat demo` sets its own)."""
    if source is not None:
        return None
    how = f"set DRUMBEAT_CRM_SOURCE{f' or pass {option}' if option else ''}"
    return (
        f"no CRM source: {how} to the CRM your numbers come from, one of "
        f"{', '.join(CRM_SOURCES)} (demo is made-up data, for trying Drumbeat out)"
    )


def stored_sources(url: str) -> set[str]:
    """The CRM sources whose owners, deals or activities the store at `url` holds (empty
    when it holds none, or has no schema yet: `drumbeat migrate` reports that). A database
    that cannot be reached raises the SQLAlchemy error (the caller names it)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                str(source)
                for model in (CrmUser, Deal, Activity)
                for source in connection.scalars(select(model.source).distinct())
            }
    except SQLAlchemyError as exc:
        if connection_failed(exc):
            raise
        return set()
    finally:
        engine.dispose()


ADD_SOURCE = "--add-source"


def mixed_source_problem(url: str, source: str) -> str | None:
    """None unless syncing `source` would add its records to a store that holds another
    source's and none of its own: the numbers would count both CRMs (the demo's made-up
    activities in real reps' scoreboards). Once a source was added on purpose
    (`drumbeat sync --add-source`, a CRM migration whose history stays in the old CRM),
    the store holds both and this says nothing."""
    held = stored_sources(url)
    if not held or source in held:
        return None
    others = ", ".join(sorted(held))
    return (
        f"the store at {redacted(url)} holds {others} CRM records, not {source}: syncing "
        f"{source} into it would count both in every number. Set DRUMBEAT_CRM_SOURCE="
        f"{sorted(held)[0]}, or start over on an empty database (a new DRUMBEAT_DATABASE_URL, "
        "or `drumbeat migrate --downgrade --revision base && drumbeat migrate`, which also "
        f"deletes MAPLE replies and alert history), or, moving to a new CRM whose history "
        f"stays in the old one, add it once with `drumbeat sync --source {source} {ADD_SOURCE}`"
    )


def port_problem(host: str, port: int, *, option: str = "--port") -> str | None:
    """None when `port` on `host` can be listened on (0: any free port, always); else one
    line naming it and how to choose another. Checked before anything starts (or, in
    `drumbeat demo`, before the database is seeded)."""
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot listen on {host}: {exc.strerror}"
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            try:
                probe.bind(address)
            except OSError as exc:
                return port_message(host, port, exc, option=option)
    return None


def crm_problem(settings: Settings, org: OrgConfig | None, now: dt.datetime) -> str | None:
    """None when the scheduled CRM sync's connector can be built, or when `run` schedules no
    sync (no org config, or DRUMBEAT_SYNC_MINUTES=0); else what setting is missing."""
    if org is None or settings.sync_minutes == 0 or settings.crm_source is None:
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
