from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.directory import apply_directory
from metrics.models import CrmUser, Person, SyncRun
from rhythms.commands import drumbeat_command, velocity_reply
from rhythms.config import load_org_config
from rhythms.models import AlertState, AuditEntry, Delivery, Interaction, RhythmOverride
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # Monday 10:00 New York


def _people(session: Session) -> dict[str, Person]:
    apply_directory(session, CFG, today=NOW.date())
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for p in people.values():
        p.slack_user_id = f"U{p.id:05d}"
    session.commit()
    return people


def _run(session: Session, who: Person | None, text: str, user: str = "UNKNOWN1"):  # type: ignore[no-untyped-def]
    reply = drumbeat_command(
        session,
        config=CFG,
        viewer=who,
        slack_user_id=who.slack_user_id if who and who.slack_user_id else user,
        text=text,
        now=NOW,
    )
    assert validate_blocks(reply.blocks) == []
    return reply


def test_help_and_unknown_subcommand(session: Session) -> None:
    people = _people(session)
    assert "/metric NAME" in _run(session, people["dana"], "help").text
    assert "I don't know `frobnicate`" in _run(session, people["dana"], "frobnicate").text
    assert "unclosed quote" in _run(session, people["dana"], 'rhythm time "x').text


def test_whoami_known_and_unknown(session: Session) -> None:
    people = _people(session)
    session.add(
        CrmUser(
            source="hubspot",
            external_id="77",
            email="dana.ruiz@acme.example",
            person_id=people["dana"].id,
        )
    )
    session.commit()
    text = _run(session, people["dana"], "whoami").text
    assert "Dana Ruiz" in text and "hubspot:77" in text and "America/Chicago" in text
    assert "not mapped to anyone" in _run(session, None, "whoami", user="U999").text
    assert "don't know you yet" in _run(session, None, "rhythms").text


def test_rhythms_show_next_run_usage_and_overrides(session: Session) -> None:
    people = _people(session)
    session.add(
        Interaction(
            at=NOW - dt.timedelta(days=1),
            slack_user_id="U1",
            rhythm="maple",
            kind="view",
            name="maple_submit",
        )
    )
    session.add(
        Delivery(
            rhythm="maple",
            period_key="k",
            recipient="U1",
            payload={"text": "x"},
            status="sent",
            sent_at=NOW - dt.timedelta(days=2),
            not_before=NOW,
            created_at=NOW,
        )
    )
    session.commit()
    reply = _run(session, people["dana"], "rhythms")
    text = str(reply.blocks)
    # Dana is in Chicago: the 17:30 scoreboard's next run is today 17:30 her time
    assert "*daily_scoreboard* `30 17 * * mon-fri` · next Mon Nov 23 17:30" in text
    assert "*maple*" in text and "1 sent, 1 interactions by 1 people" in text


def test_admin_switchboard(session: Session) -> None:
    people = _people(session)
    refused = _run(session, people["dana"], "rhythm off daily_scoreboard")
    assert "Only admins" in refused.text
    assert session.get(RhythmOverride, "daily_scoreboard") is None
    done = _run(session, people["sam"], "rhythm off daily_scoreboard")
    session.commit()
    assert "is now *off*" in str(done.blocks)
    row = session.get(RhythmOverride, "daily_scoreboard")
    assert (
        row is not None and row.enabled is False and row.changed_by == people["sam"].slack_user_id
    )
    retimed = _run(session, people["sam"], 'rhythm time maple "30 15 * * fri"')
    assert "`30 15 * * fri`" in str(retimed.blocks)
    bad = _run(session, people["sam"], 'rhythm time maple "99 15 * * fri"')
    assert bad.text.startswith("Not changed:") and "bad cron" in bad.text
    unknown = _run(session, people["sam"], "rhythm on nope")
    assert "no rhythm `nope`" in unknown.text
    session.commit()
    audit = session.scalars(select(AuditEntry)).all()
    assert [a.detail["rhythm"] for a in audit] == ["daily_scoreboard", "maple"]
    off = "⚪ off *daily_scoreboard*"
    assert off in str(_run(session, people["dana"], "rhythms").blocks)
    assert _run(session, people["sam"], "resync").start_sync


def test_targets_and_sync_status(session: Session) -> None:
    people = _people(session)
    targets = str(_run(session, people["ben"], "targets").blocks)
    assert "*Calls*: daily 50, weekly 300, monthly 1,200" in targets  # his own daily override
    assert "No CRM sync has finished" in _run(session, people["ben"], "sync-status").text
    session.add(
        SyncRun(
            source="hubspot",
            started_at=NOW - dt.timedelta(hours=9),
            finished_at=NOW - dt.timedelta(hours=9),
            status="ok",
        )
    )
    session.commit()
    assert "stale" in _run(session, people["ben"], "sync-status").text


def test_velocity_names_teams_as_metric_does(session: Session) -> None:
    """`/velocity` takes what `/metric` takes for a team: key, name, channel, reference."""
    people = _people(session)
    for word in ("sdr", "SDR", "#team-sdr", "team-sdr", "<#C1|team-sdr>", "<#C1|TEAM-SDR>"):
        reply = velocity_reply(
            session, config=CFG, viewer=people["olivia"], team_word=word, today=NOW.date()
        )
        assert reply.text.startswith("*SDR*"), (word, reply.text)
    reply = velocity_reply(
        session,
        config=CFG,
        viewer=people["olivia"],
        team_word="Account Executives",
        today=NOW.date(),
    )
    assert reply.text.startswith("*Account Executives*")
    reply = velocity_reply(
        session, config=CFG, viewer=people["olivia"], team_word="#random", today=NOW.date()
    )
    assert reply.text == "No team `#random`: try sdr, ae, cs"


def test_alerts_read_as_rule_titles_and_names(session: Session) -> None:
    """`/drumbeat alerts` lists firing alerts as people read them — the rule as its message
    titles it and the subject by name — not `sdr-no-calls-by-11 · person:4`, at the
    viewer's time, and only those still firing (as the App Home lists them)."""
    people = _people(session)
    dana = people["dana"]
    session.add(
        AlertState(
            rule="sdr-no-calls-by-11",
            subject=f"person:{dana.id}",
            state="firing",
            since=NOW,
            fired_at=NOW,
        )
    )
    session.add(
        AlertState(rule="gone-rule", subject="team:sdr", state="firing", since=NOW, fired_at=NOW)
    )
    session.commit()
    boss = next(p for p in people.values() if p.role == "exec")  # sees every alert
    text = " ".join(str(b) for b in _run(session, boss, "alerts").blocks)
    assert dana.name in text and f"person:{dana.id}" not in text
    assert "sdr-no-calls-by-11" not in text  # its title instead
    assert "gone-rule" not in text  # a rule no longer configured has ended: not listed
    assert "since Mon 10:00 EST" in text  # the viewer's zone, not UTC
