"""The monthly game plan: each leader says what to resource, what not, their top three
priorities and the risks; answers are stored (with history, like MAPLE) and posted as a
thread under the month's review.

The plan for month M is asked on M's first working days (rhythm `game_plan`, or the review's
"Add your game plan" button) and threads under the review of month M-1.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.blocks import actions, button, escaped, plain, section, split_text, text_input
from rhythms.config import OrgConfig
from rhythms.maple import get_reply, save_reply
from rhythms.maple_modal import as_dict, clean_text, state_values
from rhythms.models import Delivery
from rhythms.outbox import enqueue
from rhythms.registry import Outgoing, Recipient, RhythmSpec, RunContext

RHYTHM = "game_plan"
CALLBACK_ID = "game_plan_submit"
OPEN_ACTION = "game_plan_open"
FIELDS: tuple[tuple[str, str, int, bool], ...] = (
    ("resource", "What will you resource (people, money, time)?", 1500, True),
    ("not_doing", "What will you deliberately not do?", 1500, False),
    ("priorities", "Top 3 priorities (one per line)", 1000, True),
    ("risks", "Risks to the plan", 1500, False),
)


def month_key(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def parse_month(key: str) -> dt.date:
    try:
        return dt.datetime.strptime(key, "%Y-%m").date()
    except ValueError as exc:
        raise ValueError(f"{key!r} is not a month like 2026-11") from exc


def game_plan_modal(
    *, month: str, person_id: int, answers: dict[str, Any] | None
) -> dict[str, Any]:
    answers = answers or {}
    label = parse_month(month).strftime("%B %Y")
    blocks: list[dict[str, Any]] = [
        section(
            f"*Game plan for {label}*\nShared with leadership "
            "in the thread under the monthly review."
        )
    ]
    for block_id, text, limit, required in FIELDS:
        blocks.append(
            text_input(
                block_id, text, limit=limit, required=required, initial=answers.get(block_id)
            )
        )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain("Monthly game plan", 24),
        "submit": plain("Share plan", 24),
        "close": plain("Close", 24),
        "private_metadata": json.dumps({"month": month, "person": person_id}),
        "blocks": blocks,
    }


def parse_game_plan(view: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    values = state_values(view)
    answers, errors = {}, {}
    for block_id, label, limit, required in FIELDS:
        raw = as_dict(as_dict(values.get(block_id)).get("value")).get("value")
        text = clean_text(raw if isinstance(raw, str) else "")
        if len(text) > limit:
            errors[block_id] = f"Keep it under {limit} characters (now {len(text)})."
        elif required and not text:
            errors[block_id] = f"{label.split('(')[0].strip()} is needed."
        answers[block_id] = text
    priorities = [line for line in answers.get("priorities", "").splitlines() if line.strip()]
    if len(priorities) > 3 and "priorities" not in errors:
        errors["priorities"] = "Three priorities at most: choose."
    return answers, errors


def plan_blocks(name: str, answers: dict[str, str]) -> list[dict[str, Any]]:
    parts = [f"*{name}'s game plan*"]
    for block_id, label, _, _ in FIELDS:
        value = answers.get(block_id, "").strip()
        if value:
            parts.append(f"*{label.split('(')[0].strip()}*\n{escaped(value)}")
    return [section(piece) for piece in split_text("\n\n".join(parts))]


def review_delivery(session: Session, config: OrgConfig, plan_month: dt.date) -> Delivery | None:
    """The review of the month before `plan_month`, as posted to the leadership channel."""
    names = [n for n in config.rhythms if config.rhythm_kind(n) == "monthly_review"]
    if not names:
        return None
    channel = (
        next((config.rhythms[n].channel for n in names if config.rhythms[n].channel), None)
        or config.slack.leadership_channel
    )
    query = select(Delivery).where(
        Delivery.rhythm.in_(names),
        Delivery.part == "main",
        Delivery.kind == "message",
        Delivery.period_key.like(f"%:{plan_month:%Y-%m}-%"),
    )
    if channel:
        query = query.where(Delivery.recipient == channel)
    return session.scalars(query.order_by(Delivery.id)).first()


def submit_game_plan(
    session: Session, *, config: OrgConfig, view: dict[str, Any], person: Person, now: dt.datetime
) -> dict[str, str]:
    """Store and share the plan; returns inline errors (empty when stored)."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
        month = str(meta["month"])
        parse_month(month)
    except (ValueError, KeyError, TypeError):
        return {"resource": "This form is out of date: open the game plan again."}
    if int(meta.get("person", -1)) != person.id:
        return {"resource": "This plan belongs to someone else."}
    answers, errors = parse_game_plan(view)
    if errors:
        return errors
    saved = save_reply(
        session,
        rhythm=RHYTHM,
        period_key=month,
        person_id=person.id,
        answers=answers,
        submit=True,
        now=now,
    )
    review = review_delivery(session, config, parse_month(month))
    target = review.recipient if review is not None else config.slack.leadership_channel
    if target:
        version = "" if saved.first_submission else " (updated)"
        enqueue(
            session,
            rhythm=RHYTHM,
            period_key=month,
            recipient=target,
            part=f"{person.id}:{saved.reply.updated_at:%Y%m%dT%H%M%S}",
            thread_of_id=review.id if review is not None else None,
            now=now,
            payload={
                "text": f"{person.name}'s game plan{version}",
                "blocks": plan_blocks(person.name, answers),
            },
        )
    return {}


def game_plan_spec() -> RhythmSpec:
    """DMs each leader a prompt on the first working day, unless they already shared one."""

    def compose(ctx: RunContext, recipients: Sequence[Recipient]) -> list[Outgoing]:
        first = ctx.local_day.replace(day=1)
        day = first
        while not ctx.calendar.is_working_day(day):
            day += dt.timedelta(days=1)
        if day != ctx.local_day:
            return []
        month = month_key(first)
        out = []
        for r in recipients:
            reply = get_reply(ctx.session, rhythm=RHYTHM, period_key=month, person_id=r.person_id)
            if not r.slack_user_id or (reply is not None and reply.status == "submitted"):
                continue
            out.append(
                Outgoing(
                    recipient=r.slack_user_id,
                    payload={
                        "text": f"Your game plan for {first:%B}: resource, not do, top 3, risks",
                        "blocks": [
                            section(
                                f"🗺️ *Game plan for {first:%B %Y}*\nWhat will you resource, "
                                "what will you not do, your top 3 priorities and the risks."
                            ),
                            actions(
                                button("Write my game plan", OPEN_ACTION, month, style="primary"),
                                block_id="game_plan_prompt",
                            ),
                        ],
                    },
                )
            )
        return out

    return RhythmSpec(kind="game_plan", compose=compose, description="Monthly game plan prompt")
