"""Delivery failures: which Slack errors are permanent, and telling the admin about them.

A delivery that fails for good is marked dead with the error, and the admins get one DM (or
one post in ``[slack].admin_channel``) naming the rhythm, the recipient and the fix. The
notice is itself an outbox delivery keyed by (rhythm, recipient, error), so the same broken
target is reported once, not every day, and a crash cannot report it twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.outbox import enqueue

ADMIN_RHYTHM = "drumbeat.delivery_failures"

# error -> the fix, phrased for the admin ({recipient} is filled in).
PERMANENT_ERRORS: dict[str, str] = {
    "not_in_channel": "invite the bot to {recipient} (`/invite @Drumbeat` in the channel)",
    "channel_not_found": "check the channel {recipient} exists; fix it in drumbeat.toml",
    "is_archived": "{recipient} is archived: unarchive it or point the rhythm elsewhere",
    "account_inactive": "{recipient} is deactivated in Slack: mark them inactive in drumbeat.toml",
    "user_not_found": "{recipient} is not in this workspace: check their slack_user_id/email",
    "user_disabled": "{recipient} is deactivated in Slack: mark them inactive in drumbeat.toml",
    "cannot_dm_bot": "{recipient} is a bot: remove it from the rhythm's audience",
    "invalid_blocks": "the message broke Block Kit limits: report it (it is a Drumbeat bug)",
    "invalid_blocks_format": "the message's blocks are malformed: report it (a Drumbeat bug)",
    "msg_too_long": "the message is too long: report it (it is a Drumbeat bug)",
    "no_text": "the message was empty: report it (it is a Drumbeat bug)",
    "invalid_arguments": "Slack refused the call's arguments: report it (a Drumbeat bug)",
    "restricted_action": "a workspace policy stops the bot posting in {recipient}",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "invalid_auth": "SLACK_BOT_TOKEN is invalid or revoked: reinstall the app",
    "account_inactive_token": "the bot's token was revoked: reinstall the app",
    "token_revoked": "the bot's token was revoked: reinstall the app",
    "missing_scope": "the app lacks an OAuth scope: reinstall it from the manifest",
    "message_not_found": "the message to update was deleted in Slack",
    "cant_update_message": "the message to update was not posted by Drumbeat",
    "file_not_found": "the uploaded chart was lost before sharing: it will not be retried",
    "outcome_unknown": "the process stopped mid-send; this kind cannot be checked, so it "
    "was not resent",
}


def is_permanent(error: str) -> bool:
    return error in PERMANENT_ERRORS


def fix_for(error: str, recipient: str) -> str:
    template = PERMANENT_ERRORS.get(error, "see the error and Drumbeat's logs")
    return template.format(recipient=_mention(recipient))


def _mention(recipient: str) -> str:
    if recipient.startswith(("U", "W")):
        return f"<@{recipient}>"
    if recipient.startswith(("C", "G")) and recipient[1:].isalnum() and recipient.isupper():
        return f"<#{recipient}>"
    return recipient


def admin_targets(session: Session, *, admin_channel: str | None) -> list[str]:
    """Where failure notices go: the admin channel if set, else every admin's DM."""
    if admin_channel:
        return [admin_channel]
    admins = session.scalars(
        select(Person.slack_user_id).where(
            Person.role == "admin", Person.active.is_(True), Person.slack_user_id.is_not(None)
        )
    )
    return sorted(a for a in admins if a)


def notify_admins(
    session: Session,
    *,
    rhythm: str,
    recipient: str,
    error: str,
    delivery_id: int,
    admin_channel: str | None,
    now: dt.datetime,
) -> int:
    """Enqueue one notice per admin target for this (rhythm, recipient, error); returns how
    many were new. Failures of the notices themselves are not reported (no loops)."""
    if rhythm == ADMIN_RHYTHM:
        return 0
    digest = hashlib.sha1(f"{rhythm}|{recipient}|{error}".encode()).hexdigest()[:16]
    text = (
        f":warning: Drumbeat could not deliver *{rhythm}* to {_mention(recipient)}: "
        f"`{error}`.\nFix: {fix_for(error, recipient)}. (delivery {delivery_id})"
    )
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
    created = 0
    for target in admin_targets(session, admin_channel=admin_channel):
        row = enqueue(
            session,
            rhythm=ADMIN_RHYTHM,
            period_key=f"{error[:40]}:{digest}",
            recipient=target,
            payload={"text": text, "blocks": blocks},
            now=now,
        )
        created += int(row.id is not None and row.created_at == now and row.attempts == 0)
    return created
