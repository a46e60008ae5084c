"""Delivery failures: which Slack errors are permanent, which stop all sending, and telling
the admin about them.

- **Global** errors (`AUTH_ERRORS`: the token is missing, invalid or revoked, or the bot's
  account is deactivated) are nobody's delivery's fault: the sender pauses, keeps every row
  pending and logs one ERROR (`bot.sender`).
- **Permanent** errors (`PERMANENT_ERRORS`) are one delivery's: it is marked dead with the
  error and the admins are told, naming the rhythm, the recipients and the fix. A missing
  OAuth scope is one of them: it stops one method (so one kind of delivery), not the
  token; its error names the method and the scope Slack says is needed (`scope_error`),
  and each missing scope is its own notice.
- A delivery that could not be sent before its expiry is marked ``expired``; the admins are
  told too.

Notices are grouped per (rhythm, error) with a count, never one per recipient: the notice is
an outbox delivery (rhythm `ADMIN_RHYTHM`) whose payload lists the recipients; while it waits
to be sent, more recipients are added to it; once it is sent, a new recipient starts another
one. A recipient already reported for a permanent error is not reported again (the same
broken channel is reported once, not daily); expiries are grouped per UTC day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.models import Delivery
from rhythms.outbox import enqueue

ADMIN_RHYTHM = "drumbeat.delivery_failures"

# error -> the fix, phrased for the admin ({recipient} is filled in).
PERMANENT_ERRORS: dict[str, str] = {
    "not_in_channel": "invite the bot to {recipient} (`/invite @Drumbeat` in the channel)",
    "channel_not_found": "check the channel {recipient} exists; fix it in drumbeat.toml",
    "is_archived": "{recipient} is archived: unarchive it or point the rhythm elsewhere",
    "user_not_found": "{recipient} is not in this workspace: check their slack_user_id/email",
    "user_disabled": "{recipient} is deactivated in Slack: mark them inactive in drumbeat.toml",
    "cannot_dm_bot": "{recipient} is a bot: remove it from the rhythm's audience",
    "invalid_blocks": "the message broke Block Kit limits: report it (it is a Drumbeat bug)",
    "invalid_blocks_format": "the message's blocks are malformed: report it (a Drumbeat bug)",
    "msg_too_long": "the message is too long: report it (it is a Drumbeat bug)",
    "no_text": "the message was empty: report it (it is a Drumbeat bug)",
    "invalid_arguments": "Slack refused the call's arguments: report it (a Drumbeat bug)",
    "restricted_action": "a workspace policy stops the bot posting in {recipient}",
    "message_not_found": "the message to update was deleted in Slack",
    "cant_update_message": "the message to update was not posted by Drumbeat",
    "file_not_found": "the uploaded chart was lost before sharing: it will not be retried",
    "missing_scope": "add the scope Slack names to the app's bot scopes (manifest.yml lists "
    "every one Drumbeat uses), reinstall the app, then `drumbeat deliveries retry`",
    "outcome_unknown": "the process stopped mid-send; this kind cannot be checked, so it "
    "was not resent",
}


# Errors about the bot's own token or app, not about one delivery: sending pauses (rows stay
# pending) until the token works again. error -> what the operator must do.
AUTH_ERRORS: dict[str, str] = {
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "invalid_auth": "SLACK_BOT_TOKEN is invalid or revoked: reinstall the app, set the new token",
    "token_revoked": "the bot's token was revoked: reinstall the app and set SLACK_BOT_TOKEN",
    "token_expired": "the bot's token expired: reinstall the app and set SLACK_BOT_TOKEN",
    "account_inactive": "the bot's user or workspace is deactivated: reinstall the app",
}

# A user id where a channel was expected, unknown to Slack: not a channel problem.
_UNKNOWN_USER = "{recipient} is not a user of this workspace: check their slack_user_id/email"


def is_permanent(error: str) -> bool:
    return error in PERMANENT_ERRORS


def is_global(error: str) -> bool:
    """The error is about the bot's token or app (pause everything), not one delivery."""
    return error in AUTH_ERRORS


def scope_error(method: str, answer: dict[str, Any]) -> str:
    """The recorded error for Slack's ``missing_scope`` answer to `method`, from its
    ``needed`` field: ``missing_scope: conversations.list needs channels:read``."""
    needed = str(answer.get("needed") or "a scope Slack did not name")
    return f"missing_scope: {method} needs {needed}"[:300]


def notice_error(error: str) -> str:
    """The error as admin notices group it: its code (``channel_not_found``), except that a
    missing scope keeps the method and the scope, so each missing scope is one notice."""
    code = error.split(":")[0].strip() or "failed"
    return error[:200] if code == "missing_scope" else code


def fix_for(error: str, recipient: str) -> str:
    code = error.split(":")[0].strip()
    template = PERMANENT_ERRORS.get(code) or AUTH_ERRORS.get(code)
    if error == "channel_not_found" and recipient.startswith(("U", "W")):
        template = _UNKNOWN_USER
    template = template or "see the error and Drumbeat's logs"
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
    expired: bool = False,
) -> int:
    """Report a dead (or, with `expired`, an expired) delivery to every admin target, grouped
    per (rhythm, error) (see the module docstring); returns how many notices were new.
    Failures of the notices themselves are not reported (no loops)."""
    if rhythm == ADMIN_RHYTHM:
        return 0
    digest = hashlib.sha1(f"{rhythm}|{error}".encode()).hexdigest()[:16]
    key = f"{error[:40]}:{digest}"
    if expired:
        key = f"expired:{error[:32]}:{digest}:{now:%Y-%m-%d}"
    created = 0
    for target in admin_targets(session, admin_channel=admin_channel):
        created += _report(
            session,
            key=key,
            target=target,
            rhythm=rhythm,
            recipient=recipient,
            error=error,
            delivery_id=delivery_id,
            expired=expired,
            now=now,
        )
    return created


def _report(
    session: Session,
    *,
    key: str,
    target: str,
    rhythm: str,
    recipient: str,
    error: str,
    delivery_id: int,
    expired: bool,
    now: dt.datetime,
) -> int:
    notices = session.scalars(
        select(Delivery)
        .where(
            Delivery.rhythm == ADMIN_RHYTHM,
            Delivery.period_key == key,
            Delivery.recipient == target,
        )
        .order_by(Delivery.id)
        .with_for_update()
    ).all()
    reported: set[str] = set()
    for notice in notices:
        reported.update(_recipients(notice.payload))
    if recipient in reported and not expired:
        return 0  # this broken target was reported already
    for notice in notices:
        if notice.status not in ("pending", "failed"):
            continue  # sent (or being sent): a newcomer starts another notice
        recipients = [*_recipients(notice.payload), recipient]
        payload = notice_payload(rhythm, error, recipients, delivery_id, expired=expired)
        grown = session.execute(
            update(Delivery)
            .where(Delivery.id == notice.id, Delivery.status.in_(("pending", "failed")))
            .values(payload=payload)
            .execution_options(synchronize_session=False)
        )
        if grown.rowcount == 1:  # type: ignore[attr-defined]
            return 0
    payload = notice_payload(rhythm, error, [recipient], delivery_id, expired=expired)
    enqueue(
        session,
        rhythm=ADMIN_RHYTHM,
        period_key=key,
        recipient=target,
        part=f"n{len(notices)}" if notices else "main",
        payload=payload,
        now=now,
        expires_at=now + dt.timedelta(days=1),
    )
    return 1


def _recipients(payload: Any) -> list[str]:
    found = payload.get("recipients") if isinstance(payload, dict) else None
    return [str(r) for r in found] if isinstance(found, list) else []


def notice_payload(
    rhythm: str, error: str, recipients: list[str], delivery_id: int, *, expired: bool = False
) -> dict[str, Any]:
    """The admin notice for `recipients` of `rhythm` that failed with `error`."""
    count = len(recipients)
    shown = ", ".join(_mention(r) for r in recipients[:10])
    if count > 10:
        shown += f" and {count - 10} more"
    whom = shown if count == 1 else f"{count} recipients ({shown})"
    if expired:
        text = (
            f":hourglass: Drumbeat could not deliver *{rhythm}* to {whom} before it expired "
            f"(last error `{error}`); it was not sent late. Check Slack's status and "
            "Drumbeat's logs; `drumbeat deliveries retry --expired` sends such rows again."
        )
    else:
        fix = fix_for(error, recipients[0]) if count == 1 else fix_for(error, "each of them")
        text = f":warning: Drumbeat could not deliver *{rhythm}* to {whom}: `{error}`.\nFix: {fix}."
        if count == 1:
            text += f" (delivery {delivery_id})"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
    return {"text": text[:3000], "blocks": blocks, "recipients": recipients}
