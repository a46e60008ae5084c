"""Map people to Slack users: page through `users.list`, match by email, keep the time zone.

One paged walk over the workspace (200 per page, Tier 2), never one `users.lookupByEmail` per
person. Deactivated users, bots and Slackbot are skipped. A person whose email matches gets
`slack_user_id` and `slack_timezone`; an id already held by someone else is left alone and
reported, so one bad row never steals another person's DMs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.ratelimit import RateLimiter
from bot.slack_calls import SlackCaller
from metrics.clock import Clock
from metrics.models import Person
from metrics.rezone import mark_rezoned

log = logging.getLogger(__name__)
PAGE_SIZE = 200
SLACKBOT = "USLACKBOT"


class DirectorySyncError(RuntimeError):
    """Slack could not be read (the error names the Slack error, never the token)."""


@dataclass(frozen=True)
class SlackUser:
    id: str
    email: str
    tz: str | None


@dataclass
class SyncReport:
    seen: int = 0
    skipped: int = 0  # deleted, bots, no email
    matched: int = 0
    updated: int = 0
    rezoned: int = 0  # people whose effective zone moved with their Slack profile
    conflicts: list[str] = field(default_factory=list)  # "email: U123 already used by ..."
    unmatched_people: list[str] = field(default_factory=list)


async def fetch_users(
    client: AsyncWebClient, *, caller: SlackCaller | None = None
) -> tuple[list[SlackUser], int]:
    """Every active human with an email, and how many users were skipped."""
    caller = caller or SlackCaller(RateLimiter())
    users: list[SlackUser] = []
    skipped = 0
    cursor: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": PAGE_SIZE}
        if cursor:
            kwargs["cursor"] = cursor
        out = await caller.call("users.list", client.users_list, **kwargs)
        if not out.ok:
            raise DirectorySyncError(f"users.list failed: {out.error}")
        for member in out.data.get("members") or []:
            email = (member.get("profile") or {}).get("email")
            human = not (member.get("deleted") or member.get("is_bot"))
            if not human or member.get("id") == SLACKBOT or not email:
                skipped += 1
            else:
                tz = _zone(member.get("tz"))
                users.append(SlackUser(str(member["id"]), str(email).lower(), tz))
        cursor = (out.data.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return users, skipped


def apply_users(session: Session, users: list[SlackUser], *, now: dt.datetime) -> SyncReport:
    """Set `slack_user_id` and `slack_timezone` on people matched by email (case-insensitive)."""
    report = SyncReport(seen=len(users))
    by_email = {u.email: u for u in users}
    people = list(session.scalars(select(Person)))
    holders = {p.slack_user_id: p for p in people if p.slack_user_id}
    rezoned: list[int] = []
    for person in people:
        user = by_email.get(person.email.lower())
        if user is None:
            if person.active:
                report.unmatched_people.append(person.email)
            continue
        report.matched += 1
        holder = holders.get(user.id)
        if holder is not None and holder is not person:
            report.conflicts.append(f"{person.email}: {user.id} already used by {holder.email}")
            continue
        if (person.slack_user_id, person.slack_timezone) != (user.id, user.tz):
            if person.slack_user_id:
                holders.pop(person.slack_user_id, None)
            if person.slack_timezone != user.tz and not person.timezone_override:
                rezoned.append(person.id)
            person.slack_user_id, person.slack_timezone = user.id, user.tz
            person.updated_at = now
            holders[user.id] = person
            report.updated += 1
    session.flush()
    report.rezoned = len(rezoned)
    mark_rezoned(session, rezoned)  # their rollups move to the new local days
    return report


def _zone(name: Any) -> str | None:
    """Slack's profile zone if it is a zone this machine knows, else None (org default)."""
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("ignoring unknown Slack time zone %r", name[:64])
        return None
    return name


async def sync_directory(
    client: AsyncWebClient,
    session_factory: sessionmaker[Session],
    *,
    clock: Clock,
    caller: SlackCaller | None = None,
) -> SyncReport:
    users, skipped = await fetch_users(client, caller=caller)

    def apply() -> SyncReport:
        with session_factory() as session, session.begin():
            return apply_users(session, users, now=clock.now())

    report = await asyncio.to_thread(apply)
    report.skipped = skipped
    return report
