from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.blockkit import validate_blocks
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.config import OrgConfig, load_org_config
from rhythms.engine import RhythmEngine
from rhythms.maple import save_reply
from rhythms.maple_emergency import acknowledge_emergency, escalate_emergency
from rhythms.maple_rhythm import maple_followups, maple_prompt_spec
from rhythms.models import Delivery
from rhythms.registry import Registry
from tests.conftest import EXAMPLE_CONFIG

FRIDAY = dt.date(2026, 11, 20)


def _config() -> OrgConfig:
    cfg = load_org_config(EXAMPLE_CONFIG)
    return cfg.model_copy(update={"rhythms": {"maple": cfg.rhythms["maple"]}, "alerts": ()})


def _setup(session: Session, cfg: OrgConfig) -> dict[str, Person]:
    apply_directory(session, cfg, today=FRIDAY)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for p in people.values():
        p.slack_user_id = f"U{p.id:05d}"
    session.commit()
    return people


def _utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def _deliveries(session: Session, **where: str) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.id)
    for key, value in where.items():
        query = query.where(getattr(Delivery, key) == value)
    return list(session.scalars(query))


def _answers(emergency: str = "") -> dict[str, str]:
    return {"advanced": "Closed Initech", "planned": "- Hire AE\n- QBR", "emergencies": emergency}


def test_prompts_go_out_at_each_managers_local_time(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = _config()
    with session_factory() as s:
        people = _setup(s, cfg)
    registry = Registry()
    registry.register(maple_prompt_spec())
    clock = TravellingClock(_utc(20, 18, 45))
    engine = RhythmEngine(
        session_factory=session_factory, config=cfg, clock=clock, registry=registry
    )
    sent_at: dict[str, dt.datetime] = {}
    while clock.now() < _utc(20, 23):
        engine.tick()
        with session_factory() as s:
            for d in _deliveries(s, rhythm="maple"):
                sent_at.setdefault(d.recipient, clock.now())
        clock.advance(dt.timedelta(minutes=15))
    # 14:00 New York = 19:00 UTC; Chicago 20:00 UTC; Los Angeles 22:00 UTC
    assert sent_at == {
        people["maria"].slack_user_id: _utc(20, 19),
        people["tom"].slack_user_id: _utc(20, 20),
        people["priya"].slack_user_id: _utc(20, 22),
    }
    with session_factory() as s:
        prompt = _deliveries(s, rhythm="maple")[0]
        assert validate_blocks(prompt.payload["blocks"]) == []
        assert "due Mon 12:00" in prompt.payload["text"]


def test_reminders_stop_after_an_answer_and_are_capped(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    maria, tom = people["maria"], people["tom"]
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=tom.id,
        answers=_answers(),
        submit=True,
        now=_utc(21, 9),
    )
    session.commit()
    for when in (_utc(23, 13), _utc(23, 14), _utc(23, 15), _utc(23, 16), _utc(23, 16, 30)):
        maple_followups(session, config=cfg, now=when)  # Mon 08:00 .. 11:30 New York
        session.commit()
    reminders = _deliveries(session, period_key="remind:2026-W47")
    by_recipient: dict[str, list[str]] = {}
    for d in reminders:
        by_recipient.setdefault(d.recipient, []).append(d.part)
    assert tom.slack_user_id not in by_recipient  # answered: no reminder
    assert by_recipient[maria.slack_user_id] == ["reminder:0", "reminder:1"]  # 09:00, 11:00
    assert "priya" not in json.dumps(by_recipient)  # LA: 09:00 local is 17:00 UTC
    assert reminders[0].payload["text"].startswith("⏰ Reminder")


def test_digest_at_deadline_names_everyone_once(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    session.add(
        MetricDaily(
            person_id=people["dana"].id, metric="calls", day=FRIDAY, value=40, team_key="sdr"
        )
    )
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=people["maria"].id,
        answers=_answers(),
        submit=True,
        now=_utc(20, 20),
    )
    save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=people["tom"].id,
        answers={**_answers(), "advanced": "word " * 100},
        submit=True,
        now=_utc(23, 18),
    )
    session.commit()
    maple_followups(session, config=cfg, now=_utc(23, 16))  # 11:00 NY: before the deadline
    session.commit()
    assert _deliveries(session, period_key="digest:2026-W47") == []
    for _ in range(2):  # the bot was down at 12:00 NY; it catches up at 12:31, once
        maple_followups(session, config=cfg, now=_utc(23, 17, 31))
        session.commit()
    digest = _deliveries(session, period_key="digest:2026-W47")
    mains = [d for d in digest if d.thread_of_id is None]
    assert sorted(d.recipient for d in mains) == sorted(
        ["#sales-leaders", people["olivia"].slack_user_id]
    )
    text = json.dumps(mains[0].payload, ensure_ascii=False)
    assert "Maria Gonzalez" in text and "Tom Becker" in text
    assert "Not in yet:* Priya Nair (Customer Success)" in text
    assert "Calls 40/" in text  # the M line is computed from rollups
    assert "Tom Becker* · Account Executives · _late_" in text  # 12:20 NY, after 12:00
    assert "Maria Gonzalez* · SDR" in text
    assert "Maria Gonzalez* · SDR · _late_" not in text  # on time
    threads = [d for d in digest if d.thread_of_id is not None]
    assert {d.thread_of_id for d in threads} <= {d.id for d in mains}
    assert len(threads) == 2  # Tom's long update in a thread, once per audience


def test_emergency_escalates_acknowledges_and_reraises_once(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    dana = people["dana"]  # a rep, so her manager (Maria) gets it too
    saved = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=dana.id,
        answers=_answers("Globex is churning, need exec call today"),
        submit=True,
        now=_utc(20, 20),
    )
    assert saved.emergency_changed
    n = escalate_emergency(
        session, config=cfg, reply=saved.reply, author=dana, revision=1, now=_utc(20, 20)
    )
    session.commit()
    dms = _deliveries(session, rhythm="maple_emergency")
    assert n == 2 and sorted(d.recipient for d in dms) == sorted(
        [people["olivia"].slack_user_id, people["maria"].slack_user_id]
    )
    assert "Globex is churning" in json.dumps(dms[0].payload)
    maple_followups(session, config=cfg, now=_utc(20, 20, 30))
    maple_followups(session, config=cfg, now=_utc(20, 21, 1))
    maple_followups(session, config=cfg, now=_utc(20, 22, 30))
    session.commit()
    reraised = [d for d in _deliveries(session, rhythm="maple_emergency") if d.part == "reraise"]
    assert len(reraised) == 2  # once, to both, after 60 minutes
    for d in _deliveries(session, rhythm="maple_emergency"):
        d.status, d.channel, d.ts = "sent", d.recipient, "1.0"
    session.commit()
    assert acknowledge_emergency(
        session, reply_id=saved.reply.id, by=people["olivia"].slack_user_id or "", now=_utc(20, 23)
    )
    assert not acknowledge_emergency(session, reply_id=saved.reply.id, by="U2", now=_utc(20, 23))
    session.commit()
    updates = _deliveries(session, kind="update")
    assert len(updates) == 4  # every escalation DM rewritten
    assert "Acknowledged by" in json.dumps(updates[0].payload)
    told = [
        d
        for d in _deliveries(session, rhythm="maple_emergency")
        if d.recipient == dana.slack_user_id
    ]
    assert len(told) == 1 and "acknowledged your MAPLE emergency" in told[0].payload["text"]
