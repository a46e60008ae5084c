from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.blockkit import validate_blocks
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms import runs
from rhythms.config import OrgConfig, load_org_config
from rhythms.engine import RhythmEngine
from rhythms.maple import get_reply, save_reply
from rhythms.maple_emergency import EMERGENCY_RULE, acknowledge_emergency, escalate_emergency
from rhythms.maple_flow import MapleError, modal_for, submit
from rhythms.maple_metrics import metrics_text
from rhythms.maple_rhythm import FollowupReport, maple_followups, maple_prompt_spec
from rhythms.models import AlertState, Delivery
from rhythms.registry import Registry
from rhythms.switchboard import set_rhythm
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


def _prompted(session: Session, week_friday: dt.date = FRIDAY) -> None:
    """Record the week's prompt as sent (New York, 14:00): a digest needs a week people were
    asked about."""
    run = runs.plan(
        session,
        rhythm="maple",
        period_key=f"maple:{week_friday.isoformat()}:America/New_York",
        scheduled_for=dt.datetime.combine(week_friday, dt.time(19), tzinfo=dt.UTC),
        status=runs.DONE,
    )
    assert run is not None
    session.commit()


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


def _submit_view(person: Person, **values: str) -> dict[str, Any]:
    """A MAPLE modal as Slack hands it back on submit (metadata + typed values)."""
    return {
        "private_metadata": json.dumps(
            {"rhythm": "maple", "period": "2026-W47", "person": person.id}
        ),
        "state": {
            "values": {
                k: {"value": {"type": "plain_text_input", "value": v}} for k, v in values.items()
            }
        },
    }


def _with_options(cfg: OrgConfig, **options: Any) -> OrgConfig:
    maple = cfg.rhythms["maple"]
    maple = maple.model_copy(update={"options": {**maple.options, **options}})
    return cfg.model_copy(update={"rhythms": {"maple": maple}})


def test_switched_off_in_the_app_home_maple_sends_nothing_and_says_so(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    saved = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=people["dana"].id,
        answers=_answers("Globex is churning"),
        submit=True,
        now=_utc(20, 20),
    )
    escalate_emergency(
        session, config=cfg, reply=saved.reply, author=people["dana"], revision=1, now=_utc(20, 20)
    )
    set_rhythm(session, config=cfg, name="maple", actor="UADMIN", now=_utc(20, 20), enabled=False)
    session.commit()
    before = len(_deliveries(session))
    for when in (_utc(20, 21, 30), _utc(23, 14, 5), _utc(23, 16, 5), _utc(23, 17, 5)):
        assert maple_followups(session, config=cfg, now=when) == FollowupReport()
        session.commit()
    assert len(_deliveries(session)) == before  # no reminder, no digest, no re-raise
    with pytest.raises(MapleError, match="switched off"):
        modal_for(
            session, config=cfg, slack_user_id=people["maria"].slack_user_id, now=_utc(23, 14)
        )
    set_rhythm(session, config=cfg, name="maple", actor="UADMIN", now=_utc(23, 17), enabled=True)
    session.commit()
    assert maple_followups(session, config=cfg, now=_utc(23, 17, 10)).digests == 2


def test_a_retimed_maple_follows_the_switchboard_schedule(session: Session) -> None:
    cfg = _with_options(_config(), reminders=["thu 18:00"])
    people = _setup(session, cfg)
    set_rhythm(
        session, config=cfg, name="maple", actor="UADMIN", now=_utc(18, 12), schedule="0 16 * * thu"
    )
    session.commit()
    # Thursday 16:30 New York: the retimed prompt of week 47 went out half an hour ago
    view = modal_for(
        session, config=cfg, slack_user_id=people["maria"].slack_user_id, now=_utc(19, 21, 30)
    )
    assert json.loads(view["private_metadata"])["period"] == "2026-W47"
    maple_followups(session, config=cfg, now=_utc(19, 23, 5))  # Thursday 18:05 New York
    reminders = _deliveries(session, recipient=people["maria"].slack_user_id or "")
    assert [(d.period_key, d.part) for d in reminders] == [("remind:2026-W47", "reminder:0")]


def test_the_deadline_is_org_time_shown_in_each_zone_and_nothing_reminds_after_it(
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
    while clock.now() < _utc(20, 23):
        engine.tick()
        clock.advance(dt.timedelta(minutes=15))
    with session_factory() as s:
        prompts = {d.recipient: d.payload["text"] for d in _deliveries(s, rhythm="maple")}
    # 12:00 New York is 11:00 in Chicago and 09:00 in Los Angeles
    assert "due Mon 12:00 EST" in prompts[people["maria"].slack_user_id or ""]
    assert "due Mon 11:00 CST" in prompts[people["tom"].slack_user_id or ""]
    assert "due Mon 09:00 PST" in prompts[people["priya"].slack_user_id or ""]
    when = _utc(23, 13)
    while when < _utc(23, 21):  # Monday, every 30 minutes
        with session_factory() as s:
            maple_followups(s, config=cfg, now=when)
            s.commit()
        when += dt.timedelta(minutes=30)
    with session_factory() as s:
        (digest_at,) = {d.created_at for d in _deliveries(s, period_key="digest:2026-W47")}
        reminders = [d for d in _deliveries(s) if d.period_key == "remind:2026-W47"]
        assert digest_at == _utc(23, 17)
        assert reminders and all(d.created_at < digest_at for d in reminders)
        assert all("due Mon 09:00 PST" not in d.payload["text"] for d in reminders)
        assert people["priya"].slack_user_id not in {d.recipient for d in reminders}


def test_reminders_only_while_the_week_is_open_and_never_to_people_away(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    _prompted(session)
    # a fresh deployment, Friday 21:25 UTC: week 47's prompt has not fired in Los Angeles
    # yet, and week 46 there is long over: nobody is reminded of it
    maple_followups(session, config=cfg, now=_utc(20, 21, 25))
    assert _deliveries(session) == []
    maria = people["maria"]
    maria.out_of_office_from = dt.date(2026, 11, 20)
    maria.out_of_office_until = dt.date(2026, 11, 27)
    session.commit()
    for when in (_utc(23, 14, 5), _utc(23, 16, 5), _utc(23, 17, 5)):
        maple_followups(session, config=cfg, now=when)
        session.commit()
    assert maria.slack_user_id not in {
        d.recipient for d in _deliveries(session) if d.period_key.startswith("remind:")
    }
    digest = _deliveries(session, period_key="digest:2026-W47")[0]
    text = json.dumps(digest.payload, ensure_ascii=False)
    assert "Out of office:* Maria Gonzalez (SDR)" in text
    assert "Not in yet:* Tom Becker (Account Executives), Priya Nair (Customer Success)" in text
    assert "0 of 2 updates in" in text and "2 missing, 1 out of office" in text
    # a manager added on Wednesday: week 47's deadline is past, week 48's prompt not out
    session.add(
        Person(
            email="new.mgr@acme.example",
            name="New Manager",
            role="manager",
            team_key="cs",
            slack_user_id="UNEW",
            active=True,
        )
    )
    session.commit()
    assert maple_followups(session, config=cfg, now=_utc(25, 15)).reminders == 0
    assert _deliveries(session, recipient="UNEW") == []


def test_reminder_numbers_compare_as_numbers(session: Session) -> None:
    slots = [f"sat {hour:02d}:00" for hour in range(6, 18)]  # 12 reminders
    cfg = _with_options(_config(), reminders=slots)
    people = _setup(session, cfg)
    for hour in range(6, 18):  # Saturday in New York, five past each slot
        maple_followups(session, config=cfg, now=_utc(21, hour + 5, 5))
        session.commit()
    parts = [d.part for d in _deliveries(session, recipient=people["maria"].slack_user_id or "")]
    assert parts == [f"reminder:{i}" for i in range(12)]


def test_clearing_an_emergency_resolves_it_and_it_is_never_raised_again(
    session: Session,
) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    maria = people["maria"]
    fire = {"advanced": "A", "planned": "- P", "emergencies": "Globex churning"}
    out = submit(
        session,
        config=cfg,
        view=_submit_view(maria, **fire),
        slack_user_id=maria.slack_user_id or "",
        now=_utc(20, 20),
    )
    assert out.escalated == 1
    for d in _deliveries(session, rhythm="maple_emergency"):
        d.status, d.channel, d.ts = "sent", d.recipient, "1.0"
    session.commit()
    submit(
        session,
        config=cfg,
        view=_submit_view(maria, **{**fire, "emergencies": ""}),
        slack_user_id=maria.slack_user_id or "",
        now=_utc(20, 20, 10),
    )
    session.commit()
    reply = get_reply(session, rhythm="maple", period_key="2026-W47", person_id=maria.id)
    assert reply is not None
    state = session.get(AlertState, (EMERGENCY_RULE, f"reply:{reply.id}"))
    assert state is not None and state.state == "resolved"
    (rewrite,) = _deliveries(session, kind="update")
    assert rewrite.part == "clear:main" and "Cleared" in json.dumps(rewrite.payload)
    assert all(b["type"] != "actions" for b in rewrite.payload["blocks"])
    assert maple_followups(session, config=cfg, now=_utc(20, 21, 30)).reraised == 0
    # and a firing emergency whose text is gone (however) is resolved, not re-raised blank
    dana = people["dana"]
    saved = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=dana.id,
        answers=_answers("Hooli churning"),
        submit=True,
        now=_utc(20, 22),
    )
    escalate_emergency(
        session, config=cfg, reply=saved.reply, author=dana, revision=1, now=_utc(20, 22)
    )
    saved.reply.answers = {**saved.reply.answers, "emergencies": "  "}
    session.commit()
    assert maple_followups(session, config=cfg, now=_utc(20, 23, 30)).reraised == 0
    assert [d for d in _deliveries(session) if d.part == "reraise"] == []
    state = session.get(AlertState, (EMERGENCY_RULE, f"reply:{saved.reply.id}"))
    assert state is not None and state.state == "resolved"


def test_an_emergency_skips_a_deactivated_manager_for_the_next_one_up(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    dana, maria, priya = people["dana"], people["maria"], people["priya"]
    olivia = people["olivia"].slack_user_id
    maria.active, maria.manager_id = False, priya.id
    saved = save_reply(
        session,
        rhythm="maple",
        period_key="2026-W47",
        person_id=dana.id,
        answers=_answers("Globex churning"),
        submit=True,
        now=_utc(20, 20),
    )
    escalate_emergency(
        session, config=cfg, reply=saved.reply, author=dana, revision=1, now=_utc(20, 20)
    )
    assert {d.recipient for d in _deliveries(session, rhythm="maple_emergency")} == {
        olivia,
        priya.slack_user_id,
    }
    priya.active = False  # nobody active up the chain: the execs still hear of it
    escalate_emergency(
        session, config=cfg, reply=saved.reply, author=dana, revision=2, now=_utc(20, 21)
    )
    assert {
        d.recipient
        for d in _deliveries(session, rhythm="maple_emergency", period_key=f"{saved.reply.id}:2")
    } == {olivia}


def test_the_metrics_of_a_manager_of_two_teams_are_their_reps(session: Session) -> None:
    cfg = _config()
    teams = tuple(
        t.model_copy(update={"manager": "maria.gonzalez@acme.example"}) if t.key == "ae" else t
        for t in cfg.teams
    )
    cfg = cfg.model_copy(update={"teams": teams})
    people = _setup(session, cfg)
    wednesday = dt.date(2026, 11, 18)
    for who, calls, team in (("dana", 100, "sdr"), ("chloe", 70, "ae"), ("maria", 500, "sdr")):
        session.add(
            MetricDaily(
                person_id=people[who].id, metric="calls", day=wednesday, value=calls, team_key=team
            )
        )
    session.commit()
    maria = metrics_text(
        session, config=cfg, person=people["maria"], week="2026-W47", now=_utc(20, 19)
    )
    # the reps of SDR (4 × 300 a week) and AE (3 × 75): not Maria's own 500 calls
    assert "Your teams' week (SDR, Account Executives)" in maria
    assert "*Calls* 170 of 1,425" in maria
    tom = metrics_text(session, config=cfg, person=people["tom"], week="2026-W47", now=_utc(20, 19))
    assert "Your team's week" in tom and "*Calls* 70 of 225" in tom


def test_a_late_update_reaches_the_digest_readers(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    _prompted(session)
    maple_followups(session, config=cfg, now=_utc(23, 17, 5))  # the digest, Priya missing
    session.commit()
    heads = [
        d for d in _deliveries(session, period_key="digest:2026-W47") if d.thread_of_id is None
    ]
    assert len(heads) == 2
    priya = people["priya"]
    answers = {"advanced": "Lost Acme <!channel>", "planned": "- Win it back"}
    out = submit(
        session,
        config=cfg,
        view=_submit_view(priya, **answers),
        slack_user_id=priya.slack_user_id or "",
        now=_utc(23, 18),
    )
    session.commit()
    assert out.late_posted == 2
    late = [d for d in _deliveries(session) if d.part.startswith("late:")]
    assert sorted((d.recipient, d.thread_of_id) for d in late) == sorted(
        (d.recipient, d.id) for d in heads
    )
    text = json.dumps(late[0].payload, ensure_ascii=False)
    assert "Late update* — submitted Mon 13:00 EST" in text
    assert "Priya Nair* · Customer Success · _late_" in text and "&lt;!channel&gt;" in text
    assert validate_blocks(late[0].payload["blocks"]) == []
    (thanks,) = _deliveries(session, period_key="thanks:2026-W47")
    assert "after this week's digest went out" in thanks.payload["text"]
    assert "added to the digest's thread as a late update" in thanks.payload["text"]


def test_maple_tells_a_deactivated_person_so(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    people["tom"].active = False
    session.commit()
    with pytest.raises(MapleError, match="deactivated"):
        modal_for(
            session, config=cfg, slack_user_id=people["tom"].slack_user_id or "", now=_utc(20, 21)
        )
    with pytest.raises(MapleError, match="not in Drumbeat's directory"):
        modal_for(session, config=cfg, slack_user_id="UNOBODY", now=_utc(20, 21))
