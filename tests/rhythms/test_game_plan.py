from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_view
from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.config import load_org_config
from rhythms.game_plan import game_plan_modal, parse_game_plan, submit_game_plan
from rhythms.maple import get_reply
from rhythms.models import Delivery
from rhythms.outbox import enqueue
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)


def _view(modal: dict[str, Any], **values: str) -> dict[str, Any]:
    state = {k: {"value": {"type": "plain_text_input", "value": v}} for k, v in values.items()}
    return {**modal, "state": {"values": state}}


def test_modal_is_valid_and_validates_inline() -> None:
    modal = game_plan_modal(month="2026-12", person_id=3, answers={"resource": "2 SDRs"})
    assert validate_view(modal) == []
    _, errors = parse_game_plan(_view(modal, priorities="a\nb\nc\nd"))
    assert set(errors) == {"resource", "priorities"}
    assert "Three priorities at most" in errors["priorities"]


def test_submitted_plan_is_stored_and_threads_under_the_review(session: Session) -> None:
    apply_directory(session, CFG, today=NOW.date())
    tom = session.scalars(select(Person).where(Person.email == "tom.becker@acme.example")).one()
    review = enqueue(
        session,
        rhythm="monthly_review",
        recipient="#sales-leaders",
        period_key="monthly_review:2026-12-01:America/New_York",
        now=NOW,
        payload={"text": "Monthly review November 2026"},
    )
    session.commit()
    modal = game_plan_modal(month="2026-12", person_id=tom.id, answers=None)
    view = _view(
        modal,
        resource="Two more AEs on enterprise",
        priorities="Q1 pipeline\nHiring",
        risks="Globex renewal",
    )
    assert submit_game_plan(session, config=CFG, view=view, person=tom, now=NOW) == {}
    session.commit()
    reply = get_reply(session, rhythm="game_plan", period_key="2026-12", person_id=tom.id)
    assert reply is not None and reply.answers["risks"] == "Globex renewal"
    posted = session.scalars(select(Delivery).where(Delivery.rhythm == "game_plan")).one()
    assert posted.thread_of_id == review.id and posted.recipient == "#sales-leaders"
    assert "Two more AEs" in str(posted.payload["blocks"])
    other = session.scalars(select(Person).where(Person.email == "dana.ruiz@acme.example")).one()
    assert (
        "someone else"
        in submit_game_plan(session, config=CFG, view=view, person=other, now=NOW)["resource"]
    )


def test_plan_post_is_escaped_and_whole() -> None:
    """All four answers at their limits (5,500 characters) reach the thread, in sections
    within Slack's limits, with typed `<!channel>` shown rather than pinging."""
    from bot.sandbox.blockkit import validate_blocks
    from rhythms.game_plan import plan_blocks

    answers = {
        "resource": "<!channel> " + "r " * 740 + "R-END",
        "not_doing": "n " * 745 + "N-END",
        "priorities": "A & B\n" + "p " * 490 + "P-END",
        "risks": "k " * 745 + "K-END",
    }
    blocks = plan_blocks("Olivia", answers)
    assert validate_blocks(blocks, "message") == []
    text = "\n".join(b["text"]["text"] for b in blocks)
    assert all(m in text for m in ("R-END", "N-END", "P-END", "K-END"))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "A &amp; B" in text
