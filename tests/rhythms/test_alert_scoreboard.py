"""What an alert message says (real numbers, a next step) and what its "Open scoreboard"
button shows: the subject's scoreboard, or the team's, as far as the clicker may see it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from rhythms.alert_scoreboard import alert_scoreboards
from rhythms.alerts import evaluate_rules
from rhythms.models import Delivery
from tests.support.alert_org import LA, RED_STREAK, TEAM_PACE, WED, at, calls, config, seed

NOON_LA = at(12, 0, LA)


def _sent(session: Session) -> dict[tuple[str, str], Delivery]:
    """Every alert message, marked sent; by (recipient, rule)."""
    out = {}
    for d in session.scalars(select(Delivery).where(Delivery.kind == "message")):
        d.status, d.channel, d.ts = "sent", f"D{d.recipient}", f"{d.id}.0001"
        out[(d.recipient, d.payload["alert"]["group"]["rule"])] = d
    session.commit()
    return out


def _button(message: Delivery) -> str:
    for block in message.payload["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == "alert_open_scoreboard":
                return str(element["value"])
    raise AssertionError("no Open scoreboard button")


def _click(session: Session, who: str, message: Delivery, value: str | None = None) -> Any:
    cfg = config(TEAM_PACE, RED_STREAK)
    return alert_scoreboards(
        session,
        config=cfg,
        clicker=who,
        value=value or _button(message),
        channel=message.channel or "",
        ts=message.ts or "",
        now=NOON_LA,
    )


def _setup(session: Session) -> dict[tuple[str, str], Delivery]:
    cfg = config(TEAM_PACE, RED_STREAK)
    people = seed(session, cfg)
    for name, n in (("leo", 5), ("dana", 40), ("aisha", 16), ("ben", 0)):
        calls(session, people[name], 50, WED.replace(day=24))  # green yesterday
        calls(session, people[name], n)
    evaluate_rules(session, config=cfg, now=NOON_LA)  # 15:00 in New York
    session.commit()
    return _sent(session)


def test_the_message_says_the_numbers_and_what_to_do(session: Session) -> None:
    sent = _setup(session)
    team = sent[("UOLIVIA", "team-behind")]
    assert validate_blocks(team.payload["blocks"]) == []
    text = json.dumps(team.payload["blocks"], ensure_ascii=False)
    # 12:00 in Los Angeles: 3 h of 9 → 16.7, whole 16 calls due for Aisha and for Ben
    assert "• *SDR West team*: 16 calls of 32 due by now (50%), 16 short — alert below 60%" in text
    assert "*Next step:* check in today on what is in the way" in text
    assert "threshold" not in text
    assert _button(team) == "team-behind|team:west"


def test_open_scoreboard_shows_the_subject_as_far_as_the_clicker_may_see(
    session: Session,
) -> None:
    sent = _setup(session)
    team = _click(session, "UOLIVIA", sent[("UOLIVIA", "team-behind")])
    assert len(team) == 1 and team[0]["text"].startswith("SDR West scoreboard")
    assert "Ben Carter" in json.dumps(team[0]["blocks"])  # the CRO sees every rep's line
    # Ben's own alert, opened by the CRO: Ben's scoreboard, titled with his name
    ben = _click(session, "UOLIVIA", sent[("UBEN", "red-streak")])
    assert ben[0]["blocks"][0]["text"]["text"].startswith("📊 Ben Carter's scoreboard")
    # a rep of another team: the reason, no numbers
    refused = _click(session, "UAISHA", sent[("ULEO", "red-streak")])
    assert refused == [{"text": "You can't see Leo Martin's numbers: they're not on your team."}]
    # a rep of another team (a forwarded or forged button): the reason, no numbers
    other = _click(session, "ULEO", sent[("UOLIVIA", "team-behind")])
    assert "blocks" not in other[0] and "Ben" not in other[0]["text"]


def test_a_grouped_alert_opens_the_teams_of_the_people_in_it(session: Session) -> None:
    sent = _setup(session)
    assert ("UOLIVIA", "red-streak") not in sent  # nobody red for days: no escalation
    grouped = sent[("UMARIA", "red-streak")]  # Ben (SDR West) and Leo (SDR East), by name
    assert grouped.payload["text"].startswith("⚠️ 2 · Calls turned red")
    assert _button(grouped) == "red-streak|group"
    boards = _click(session, "UOLIVIA", grouped)
    assert [b["text"].split(":")[0] for b in boards] == [
        "SDR West scoreboard Wed 25 Nov",
        "SDR East scoreboard Wed 25 Nov",
    ]
