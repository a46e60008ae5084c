from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks, validate_view
from metrics.models import Person
from rhythms.maple import (
    last_planned,
    participation,
    previous_week_key,
    revisions,
    save_reply,
    week_bounds,
    week_key,
    week_label,
)
from rhythms.maple_digest import DigestEntry, emergency_blocks, maple_digest
from rhythms.maple_modal import (
    ModalContext,
    maple_modal,
    modal_metadata,
    parse_submission,
    planned_items,
)

NOW = dt.datetime(2026, 11, 20, 20, 0, tzinfo=dt.UTC)


def _state(**values: str) -> dict[str, Any]:
    return {
        "values": {
            k: {"value": {"type": "plain_text_input", "value": v}} for k, v in values.items()
        }
    }


def test_week_keys() -> None:
    assert week_key(dt.date(2026, 11, 20)) == "2026-W47"
    assert week_bounds("2026-W47") == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert previous_week_key("2026-W01") == "2025-W52"
    assert week_label("2026-W47") == "Week 47 · Nov 16–Nov 22"
    with pytest.raises(ValueError, match="ISO week"):
        week_bounds("2026-47")


def test_planned_items_strip_bullets() -> None:
    text = "- Close Globex\n\n2. Hire SDR\n• Fix routing  \n* QBR deck"
    assert planned_items(text) == ["Close Globex", "Hire SDR", "Fix routing", "QBR deck"]


def test_modal_is_valid_and_carries_checklist_and_draft() -> None:
    ctx = ModalContext(
        rhythm="maple",
        period_key="2026-W47",
        person_id=7,
        week_label="Week 47",
        metrics_text="*Calls* 262/300",
        last_planned=("Close Globex", "x" * 200),
    )
    view = maple_modal(ctx, {"advanced": "Signed Initech", "advanced_done": ["1"]})
    assert validate_view(view) == []
    assert len(view["title"]["text"]) <= 24
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    checklist = blocks["advanced_done"]["element"]
    assert checklist["options"][0]["text"]["text"] == "Close Globex"
    assert len(checklist["options"][1]["text"]["text"]) <= 75
    assert checklist["initial_options"] == [checklist["options"][1]]
    assert blocks["advanced"]["element"]["initial_value"] == "Signed Initech"
    assert modal_metadata(view) == {"rhythm": "maple", "period": "2026-W47", "person": 7}


def test_parse_submission_validates_inline() -> None:
    view = {"state": _state(advanced="  ", planned="-\n*", emergencies="x" * 2001)}
    answers, errors = parse_submission(view)
    assert set(errors) == {"advanced", "planned", "emergencies"}
    assert "2000" in errors["emergencies"]
    answers, errors = parse_submission(view, draft=True)
    assert set(errors) == {"emergencies"}  # drafts skip required checks, not limits
    good = {"state": _state(advanced="Won Acme\r\nHired Bo\x07", planned="- A\n- B")}
    answers, errors = parse_submission(good)
    assert errors == {}
    assert answers["advanced"] == "Won Acme\nHired Bo"
    assert answers["learnings"] == ""


def test_tampered_metadata_is_refused() -> None:
    with pytest.raises(ValueError, match="metadata"):
        modal_metadata({"private_metadata": "{not json"})
    with pytest.raises(ValueError, match="metadata"):
        modal_metadata({"private_metadata": json.dumps({"rhythm": "maple"})})


def _person(session: Session, email: str = "m@acme.example") -> int:
    person = Person(email=email, name="M", role="manager", active=True)
    session.add(person)
    session.flush()
    return person.id


def test_save_submit_edit_keeps_history(session: Session) -> None:
    pid = _person(session)
    first = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers={"advanced": "draft"},
        submit=False,
        now=NOW,
    )
    assert first.reply.status == "draft" and not first.first_submission
    sub = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers={"advanced": "A1", "planned": "- P1\n- P2", "emergencies": "Churn!"},
        submit=True,
        now=NOW + dt.timedelta(minutes=5),
    )
    assert sub.first_submission and sub.emergency_changed
    edit = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers={"advanced": "A2", "planned": "- P1", "emergencies": "Churn!"},
        submit=True,
        now=NOW + dt.timedelta(minutes=9),
    )
    assert not edit.first_submission and not edit.emergency_changed
    stray = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers={"advanced": "scratch"},
        submit=False,
        now=NOW + dt.timedelta(hours=1),
    )
    session.commit()
    assert stray.reply.status == "submitted"
    assert stray.reply.answers["advanced"] == "A2"  # a draft never overwrites a submission
    assert stray.reply.submitted_at == NOW + dt.timedelta(minutes=5)
    history = revisions(session, reply_id=stray.reply.id)
    assert [r.answers.get("advanced") for r in history] == ["draft", "A1", "A2", "scratch"]
    assert last_planned(session, rhythm="maple", period_key="2026-W48", person_id=pid) == ["P1"]
    assert last_planned(session, rhythm="maple", period_key="2026-W47", person_id=pid) == []


def test_participation_buckets(session: Session) -> None:
    ids = [_person(session, f"p{i}@acme.example") for i in range(4)]
    deadline = NOW + dt.timedelta(days=3)
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=ids[0],
        answers={"advanced": "a", "planned": "b"},
        submit=True,
        now=NOW,
    )
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=ids[1],
        answers={"advanced": "a", "planned": "b"},
        submit=True,
        now=deadline + dt.timedelta(minutes=1),
    )
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=ids[2],
        answers={"advanced": "a"},
        submit=False,
        now=NOW,
    )
    stats = participation(
        session, rhythm="maple", period_key="2026-W47", person_ids=ids, deadline=deadline
    )
    assert (stats.on_time, stats.late, stats.missing) == ((ids[0],), (ids[1],), (ids[2], ids[3]))
    assert stats.answered_share == 0.5


def test_digest_names_everyone_and_stays_within_limits() -> None:
    long_text = "word " * 200
    entries = [
        DigestEntry(
            person_name=f"Manager {i:02d}",
            slack_user_id=f"U{i:04d}",
            team_name=f"Team {i % 3}",
            metrics_line="Calls 10/12",
            answers={
                "advanced": long_text if i == 3 else "Closed Acme",
                "planned": "- next",
                "emergencies": "Help" if i == 5 else "",
            },
        )
        for i in range(70)
    ]
    from rhythms.maple import Participation

    stats = Participation(tuple(range(60)), tuple(range(60, 70)), (99, 100))
    parts = maple_digest(
        week_label="Week 47",
        entries=entries,
        missing=[("Zed", "Team 1"), ("Yan", "Team 2")],
        stats=stats,
        trend=[0.8, 0.9],
    )
    assert len(parts) >= 2
    text = json.dumps([p.blocks for p in parts], ensure_ascii=False)
    for i in range(70):
        assert f"Manager {i:02d}" in text
    assert "Zed (Team 1)" in text and "🚨" in text and "80% 90%" in text
    for part in parts:
        assert validate_blocks(part.blocks, "message") == []
        for thread in part.threads:
            assert validate_blocks(thread["blocks"], "message") == []
    assert sum(len(p.threads) for p in parts) == 1  # only the long one gets a thread


def test_emergency_message_and_acknowledged_version() -> None:
    text, blocks = emergency_blocks(
        author_name="Tom",
        author_slack_id="U1",
        team_name="AE",
        week_label="Week 47",
        text="Globex churning\nneed exec",
        reply_id=42,
    )
    assert "Tom" in text and validate_blocks(blocks) == []
    button = blocks[-1]["elements"][0]
    assert button["value"] == "42"
    _, acked = emergency_blocks(
        author_name="Tom",
        author_slack_id="U1",
        team_name="AE",
        week_label="Week 47",
        text="x",
        reply_id=42,
        acked_by="U9",
    )
    assert "Acknowledged by <@U9>" in json.dumps(acked)
    assert all(b["type"] != "actions" for b in acked)


def test_export_csv_and_markdown(session: Session) -> None:
    import csv
    import io

    from rhythms.maple_export import export_rows, to_csv, to_markdown

    pid = _person(session)
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers={"advanced": 'Won "Acme", 2 deals\nline two', "planned": "- P1"},
        submit=True,
        now=NOW,
    )
    session.commit()
    rows = export_rows(session, rhythm="maple", period_key="2026-W47")
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert parsed[0]["advanced"] == 'Won "Acme", 2 deals\nline two'
    assert parsed[0]["status"] == "submitted"
    md = to_markdown(rows, period_key="2026-W47")
    assert md.startswith("# MAPLE updates · Week 47") and "**A** — Won" in md
    assert "No updates" in to_markdown([], period_key="2026-W46")
    with pytest.raises(ValueError, match="ISO week"):
        export_rows(session, rhythm="maple", period_key="last week")


def _sections(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def test_people_s_text_is_escaped_and_the_full_update_is_whole() -> None:
    """`<!channel>` typed into the modal must not ping the digest's channel, nor a link be
    disguised; a long update's thread carries every answer to its last word."""
    from rhythms.maple import Participation

    sneaky = "<!channel> we closed <https://evil.example|Globex> & more"
    answers = {
        "advanced": ("a" * 9 + " ") * 299 + "ADV-END",  # 3,000 characters with the marker
        "planned": "- next <@U0BOSS>\n- " + "p" * 1800 + " PLAN-END",
        "learnings": sneaky + " " + "l " * 900 + "LEARN-END",
        "emergencies": "fire & smoke <b> EMERG-END",
    }
    entry = DigestEntry(
        person_name="Tom",
        slack_user_id="U1",
        team_name="AE",
        metrics_line="Calls 10/12",
        answers=answers,
        open_items=("call <!here>",),
    )
    (part,) = maple_digest(
        week_label="Week 47",
        entries=[entry],
        missing=[],
        stats=Participation((1,), (), ()),
    )
    posted = json.dumps([part.blocks, part.threads], ensure_ascii=False)
    for raw in ("<!channel>", "<https://", "<@U0BOSS>", "<!here>", "<b>"):
        assert raw not in posted
    assert "&lt;!channel&gt;" in posted and "&amp; more" in posted
    (thread,) = part.threads
    assert validate_blocks(thread["blocks"], "message") == []
    full = _sections(thread["blocks"])
    for marker in ("ADV-END", "PLAN-END", "LEARN-END", "EMERG-END"):
        assert marker in full
    assert full.count("a" * 9) == 299  # the 3,000-character answer, nothing cut

    _, blocks = emergency_blocks(
        author_name="Tom",
        author_slack_id="U1",
        team_name="AE",
        week_label="Week 47",
        text="<!channel> " + "x " * 1200 + "<b>END",
        reply_id=1,
    )
    assert validate_blocks(blocks) == [] and "<!channel>" not in json.dumps(blocks)
    assert _sections(blocks).count("x ") == 1200 and "&lt;b&gt;END" in _sections(blocks)


def test_split_text_keeps_every_word_and_entity() -> None:
    from rhythms.blocks import split_text

    text = "&amp;" * 700 + " tail\nnext line"
    pieces = split_text(text, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    assert all(p.count("&") == p.count(";") for p in pieces)  # no entity cut in two
    assert split_text("short") == ["short"] and split_text("") == [""]


def test_typed_text_is_kept_as_typed_but_controls() -> None:
    typed = "Team 👩\u200d💻 shipped; می\u200cخواهم; 10\u00a0000 €; 日本\u3000語 🏳️\u200d🌈"
    view = {"state": _state(advanced=typed + "\x07\u202e!", planned="- A")}
    answers, errors = parse_submission(view)
    assert errors == {} and answers["advanced"] == typed + "!"


def test_more_planned_items_than_the_checklist_holds_are_refused() -> None:
    eleven = "\n".join(f"- item {i}" for i in range(11))
    for draft in (False, True):
        _, errors = parse_submission({"state": _state(advanced="x", planned=eleven)}, draft=draft)
        assert "10 priorities at most" in errors["planned"] and "now 11" in errors["planned"]
    ten = "\n".join(f"- item {i}" for i in range(10))
    assert parse_submission({"state": _state(advanced="x", planned=ten)})[1] == {}


def test_an_emergency_saved_in_a_draft_first_still_escalates(session: Session) -> None:
    """The draft's answers are the reply's current text, but leadership has seen nothing:
    the submission is compared with the last *submitted* answers."""
    pid = _person(session)
    fire = {"advanced": "A", "planned": "- P", "emergencies": "Globex churning"}
    draft = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers=fire,
        submit=False,
        now=NOW,
    )
    assert not draft.emergency_changed
    sub = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers=fire,
        submit=True,
        now=NOW + dt.timedelta(minutes=1),
    )
    assert sub.first_submission and sub.emergency_changed and not sub.unchanged
    # a draft changing the emergency over the submission, then submitted: new again
    worse = {**fire, "emergencies": "Globex and Hooli churning"}
    for submit in (False, True):
        edit = save_reply(
            session,
            rhythm="maple",
            period_key="2026-W47",
            person_id=pid,
            answers=worse,
            submit=submit,
            now=NOW + dt.timedelta(minutes=2 + submit),
        )
    assert edit.emergency_changed and not edit.emergency_cleared
    cleared = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=pid,
        answers={**fire, "emergencies": ""},
        submit=True,
        now=NOW + dt.timedelta(minutes=5),
    )
    assert cleared.emergency_cleared and not cleared.emergency_changed


def test_saving_the_same_answers_again_writes_nothing(session: Session) -> None:
    pid = _person(session)
    answers = {"advanced": "A", "planned": "- P", "emergencies": ""}
    results = [
        save_reply(
            session,
            rhythm="maple",
            period_key="2026-W47",
            person_id=pid,
            answers=dict(answers),
            submit=submit,
            now=NOW + dt.timedelta(minutes=i),
        )
        for i, submit in enumerate((False, False, True, True, False))
    ]
    assert [r.unchanged for r in results] == [False, True, False, True, True]
    assert results[2].first_submission and not results[3].first_submission
    history = revisions(session, reply_id=results[0].reply.id)
    assert [r.status for r in history] == ["draft", "submitted"]
    assert results[-1].reply.updated_at == NOW + dt.timedelta(minutes=2)


def test_a_long_plan_never_pushes_the_emergency_out_of_the_digest() -> None:
    from rhythms.blocks import escaped
    from rhythms.maple import Participation

    plan = tuple(
        f"Q4 push <-> renewals & upsell at Initech; legal & procurement <redlines> {'&' * 60} {i}"
        for i in range(10)
    )
    entry = DigestEntry(
        person_name="Maria",
        slack_user_id="U1",
        team_name="SDR",
        metrics_line="Calls 1/2",
        answers={"advanced": "Closed Initech", "planned": "- a", "emergencies": "Globex churning"},
        done_items=plan[:5],
        open_items=plan[5:],
    )
    (part,) = maple_digest(
        week_label="W47", entries=[entry], missing=[], stats=Participation((1,), (), ())
    )
    assert validate_blocks(part.blocks, "message") == []
    text = _sections(part.blocks)
    assert "🚨 *E* Globex churning" in text
    flat = " ".join(text.split())  # sections are split at spaces
    for item in plan:  # the whole plan, every entity whole
        assert escaped(item) in flat
    for block in part.blocks:
        if block["type"] == "section":
            body = block["text"]["text"]
            assert len(body) < 3000 and not body.endswith("…")
            assert re.search(r"&(?!(amp|lt|gt);)", body) is None  # no entity cut in two


def test_a_long_missing_list_names_everyone_within_slack_limits() -> None:
    from rhythms.maple import Participation

    missing = [(f"Manager Number{i:03d}", "Account Executives East") for i in range(400)]
    parts = maple_digest(
        week_label="W47",
        entries=[],
        missing=missing,
        stats=Participation((), (), tuple(range(400))),
    )
    text = "\n".join(_sections(p.blocks) for p in parts)
    for name, _ in missing:  # everyone, no name cut in two
        assert f"{name} (Account Executives East)" in text
    for p in parts:
        assert validate_blocks(p.blocks, "message") == []
        assert all(
            len(b["text"]["text"]) < 3000 and not b["text"]["text"].endswith("…")
            for b in p.blocks
            if b["type"] == "section"
        )
    assert "400 missing" in json.dumps(parts[-1].blocks)
