"""The delivery outbox: how rhythms hand messages to `bot/` without calling Slack.

A rhythm run writes one `Delivery` row per (rhythm, period key, recipient, part). The unique
key makes `enqueue` idempotent: running the same period twice, or on two replicas, writes
each delivery once. `bot.sender` drains pending rows and records what Slack answered.

Payloads by `kind` (all JSON):
- ``message``: ``{"text": str, "blocks": [...]?}`` → ``chat.postMessage`` to `recipient`
  (a user id opens the app DM directly, or a channel); in the thread of `thread_of_id`'s
  message when set.
- ``ephemeral``: ``{"user": str, "text": str, "blocks": [...]?}`` → ``chat.postEphemeral``.
- ``update``: ``{"text": str, "blocks": [...]?}`` → ``chat.update`` of the message that
  delivery `thread_of_id` posted (alerts resolving, acknowledgements).
- ``upload``: ``{"filename": str, "title": str, "content_base64": str, "comment": str?}`` →
  ``files.getUploadURLExternal`` + upload + ``files.completeUploadExternal`` into `recipient`
  (in the thread of `thread_of_id` when set).
- ``view_publish``: ``{"view": {...}}`` → ``views.publish`` for user `recipient`.

Every row has an expiry (`expires_at`): after it the sender records the row ``expired``
instead of sending it late. Rhythm runs pass theirs (scheduled time + grace window); other
callers get `default_expiry` (docs/delivery.md, "Expiry").
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.store import insert_ignore
from rhythms.models import Delivery

DeliveryKind = Literal["message", "ephemeral", "update", "upload", "view_publish"]
DELIVERY_KINDS: tuple[DeliveryKind, ...] = (
    "message",
    "ephemeral",
    "update",
    "upload",
    "view_publish",
)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "message": ("text",),
    "ephemeral": ("user", "text"),
    "update": ("text",),
    "upload": ("filename", "title", "content_base64"),
    "view_publish": ("view",),
}


# How long a delivery stays worth sending when its writer names no expiry, from `not_before`.
# Ephemerals answer a click or a command (nobody waits longer); a Home view is published
# again at the next open; anything else (MAPLE prompts and digests, alerts, notices) is
# stale after a few hours and must not arrive at night.
DEFAULT_EXPIRY: dict[str, dt.timedelta] = {
    "ephemeral": dt.timedelta(minutes=10),
    "view_publish": dt.timedelta(hours=1),
    "message": dt.timedelta(hours=4),
    "update": dt.timedelta(hours=4),
    "upload": dt.timedelta(hours=4),
}


def default_expiry(kind: str, start: dt.datetime) -> dt.datetime:
    """When a delivery of `kind` due at `start` stops being worth sending."""
    return start + DEFAULT_EXPIRY.get(kind, dt.timedelta(hours=4))


class OutboxError(ValueError):
    """A delivery that could never be sent (bad kind or payload): a bug in the rhythm."""


def validate_payload(kind: str, payload: dict[str, Any]) -> None:
    if kind not in _REQUIRED:
        raise OutboxError(f"unknown delivery kind {kind!r}")
    missing = [key for key in _REQUIRED[kind] if not payload.get(key)]
    if missing:
        raise OutboxError(f"{kind} payload lacks {', '.join(missing)}")
    if kind in ("update",) and payload.get("channel"):
        raise OutboxError("update payloads name their target through thread_of_id")


def enqueue(
    session: Session,
    *,
    rhythm: str,
    period_key: str,
    recipient: str,
    payload: dict[str, Any],
    now: dt.datetime,
    kind: DeliveryKind = "message",
    part: str = "main",
    run_id: int | None = None,
    thread_of_id: int | None = None,
    not_before: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> Delivery:
    """Write one delivery unless its (rhythm, period, recipient, part) exists; return the row.

    An ``INSERT … ON CONFLICT DO NOTHING``: a duplicate leaves the caller's transaction usable.
    `expires_at` defaults to `default_expiry` of `kind` from `not_before` (or `now`).
    """
    validate_payload(kind, payload)
    existing = _find(session, rhythm, period_key, recipient, part)
    if existing is not None:
        return existing
    insert_ignore(
        session,
        Delivery,
        [
            {
                "rhythm": rhythm,
                "period_key": period_key,
                "recipient": recipient,
                "part": part,
                "kind": kind,
                "payload": payload,
                "run_id": run_id,
                "thread_of_id": thread_of_id,
                "status": "pending",
                "attempts": 0,
                "not_before": not_before or now,
                "created_at": now,
                "expires_at": expires_at or default_expiry(kind, not_before or now),
            }
        ],
        keys=["rhythm", "period_key", "recipient", "part"],
    )
    row = _find(session, rhythm, period_key, recipient, part)
    assert row is not None  # inserted now, or by whoever got there first
    return row


def _find(
    session: Session, rhythm: str, period_key: str, recipient: str, part: str
) -> Delivery | None:
    return session.scalars(
        select(Delivery).where(
            Delivery.rhythm == rhythm,
            Delivery.period_key == period_key,
            Delivery.recipient == recipient,
            Delivery.part == part,
        )
    ).first()
