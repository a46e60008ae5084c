"""A rhythm switched off for one team (`/drumbeat rhythm off NAME TEAM`): stored as a
per-team override, audited, shown on the switchboard, and honoured by every run — the
team's people and its team posts are left out, nobody else."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.blockkit import validate_blocks
from metrics.clock import TravellingClock
from metrics.models import Person
from rhythms.commands import drumbeat_command
from rhythms.config import OrgConfig, parse_org_config
from rhythms.engine import RhythmEngine
from rhythms.maple import maple_rhythms
from rhythms.models import AuditEntry, Delivery, RhythmOverride, RhythmTeamOverride
from rhythms.registry import configured_audience, default_registry
from rhythms.switchboard import set_rhythm_for_team
from tests.support.leaders import StatusBoards, leaders_data, leaders_org, seed

WED = dt.datetime(2026, 11, 25, 22, 46, tzinfo=dt.UTC)  # 17:46 New York
FRI = dt.datetime(2026, 11, 27, 22, 46, tzinfo=dt.UTC)  # (Thursday is Thanksgiving)


def _switch(factory: sessionmaker[Session], cfg: OrgConfig, name: str, team: str, on: bool) -> None:
    with factory() as session:
        set_rhythm_for_team(
            session, config=cfg, name=name, team_key=team, enabled=on, actor="USAM", now=WED
        )
        session.commit()


def _sent(factory: sessionmaker[Session], rhythm: str, day: str) -> set[tuple[str, str]]:
    with factory() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.rhythm == rhythm, Delivery.period_key.contains(day))
        )
        return {(d.recipient, d.part) for d in rows}


def test_runs_leave_the_switched_off_teams_people_and_posts_out(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = leaders_org()
    seed(session_factory, cfg)
    _switch(session_factory, cfg, "daily_scoreboard", "sdrw", on=False)
    _switch(session_factory, cfg, "team_scoreboard", "sdrw", on=False)
    clock = TravellingClock(WED)
    engine = RhythmEngine(
        session_factory=session_factory,
        config=cfg,
        clock=clock,
        registry=default_registry(StatusBoards()),
    )
    engine.tick()
    # SDR West's reps (Aisha, Ben, Kim) get no DM; everyone else does
    assert _sent(session_factory, "daily_scoreboard", "2026-11-25") == {
        ("UDANA", "main"),
        ("ULEO", "main"),
        ("UCHLOE", "main"),
    }
    # Maria keeps SDR East's board (she leads a team still on), SDR West posts nowhere;
    # Vera, a director over Tom, gets the board of the team she covers
    assert _sent(session_factory, "team_scoreboard", "2026-11-25") == {
        ("UMARIA", "team:sdr"),
        ("#sdr", "team:sdr"),
        ("UTOM", "team:ae"),
        ("UVERA", "team:ae"),
        ("#ae", "team:ae"),
    }
    _switch(session_factory, cfg, "daily_scoreboard", "sdrw", on=True)
    _switch(session_factory, cfg, "team_scoreboard", "sdrw", on=True)
    clock.set(FRI)
    engine.tick()
    assert {r for r, _ in _sent(session_factory, "daily_scoreboard", "2026-11-27")} == {
        "UDANA",
        "ULEO",
        "UCHLOE",
        "UAISHA",
        "UBEN",
        "UKIM",
    }
    assert ("UMARIA", "team:sdrw") in _sent(session_factory, "team_scoreboard", "2026-11-27")
    assert ("#sdrw", "team:sdrw") in _sent(session_factory, "team_scoreboard", "2026-11-27")


def test_every_reader_of_an_audience_sees_the_switch(
    session_factory: sessionmaker[Session],
) -> None:
    """MAPLE's reminders and digest read its audience outside the engine, through
    `maple_rhythms` and `configured_audience`: a manager is left out only when every team
    she leads is off."""
    cfg = leaders_org()
    seed(session_factory, cfg)

    def audience() -> list[str]:
        with session_factory() as session:
            rhythm = maple_rhythms(session, cfg)["maple"]
            return [r.email.split("@")[0] for r in configured_audience(session, cfg, rhythm)]

    assert audience() == ["vera", "maria", "tom"]
    _switch(session_factory, cfg, "maple", "sdrw", on=False)
    assert audience() == ["vera", "maria", "tom"]  # SDR East is still on for Maria
    _switch(session_factory, cfg, "maple", "sdr", on=False)
    assert audience() == ["vera", "tom"]
    _switch(session_factory, cfg, "maple", "ae", on=False)
    assert audience() == []  # Vera stands for Tom's team, which is off too
    with session_factory() as session:  # the config entry itself is unchanged
        assert len(configured_audience(session, cfg, cfg.rhythms["maple"])) == 3


def _drumbeat(factory: sessionmaker[Session], cfg: OrgConfig, who: str, text: str) -> str:
    with factory() as session:
        viewer = session.scalars(select(Person).where(Person.slack_user_id == who)).one()
        reply = drumbeat_command(
            session, config=cfg, viewer=viewer, slack_user_id=who, text=text, now=WED
        )
        session.commit()
    assert validate_blocks(reply.blocks) == []
    return "\n".join(b["text"]["text"] for b in reply.blocks if b["type"] == "section")


def _rows(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        return [(o.rhythm, o.team_key) for o in session.scalars(select(RhythmTeamOverride))]


def test_drumbeat_rhythm_off_for_a_team(session_factory: sessionmaker[Session]) -> None:
    cfg = leaders_org()
    seed(session_factory, cfg)
    off = _drumbeat(session_factory, cfg, "USAM", "rhythm off team_scoreboard sdrw")
    assert "*team_scoreboard* is now *off for SDR West (`sdrw`)*, on for everyone else" in off
    assert "its SDR West (`sdrw`) posts left out" in off
    assert "`/drumbeat rhythm on team_scoreboard sdrw` undoes it" in off
    assert _rows(session_factory) == [("team_scoreboard", "sdrw")]
    # a team's name works too; daily DMs: SDR West's 3 reps are left out
    reps = _drumbeat(session_factory, cfg, "USAM", "rhythm off daily_scoreboard SDR West")
    assert "*daily_scoreboard* is now *off for SDR West (`sdrw`)*" in reps
    assert "3 people left out" in reps
    with session_factory() as session:
        assert session.scalars(select(RhythmOverride)).all() == []  # on for everyone else
        audit = [(a.action, a.detail) for a in session.scalars(select(AuditEntry))]
    assert audit == [
        (
            "rhythm.team",
            {"rhythm": "team_scoreboard", "team": "sdrw", "enabled": False, "changed": True},
        ),
        (
            "rhythm.team",
            {"rhythm": "daily_scoreboard", "team": "sdrw", "enabled": False, "changed": True},
        ),
    ]
    listed = _drumbeat(session_factory, cfg, "UOLIVIA", "rhythms")
    assert (
        "🟢 on *team_scoreboard* `45 17 * * mon-fri` · next Thu Nov 26 17:45 · "
        "off for SDR West (`sdrw`) · " in listed
    )
    nobody = _drumbeat(session_factory, cfg, "USAM", "rhythm off control_tower ae")
    assert "0 people left out" in nobody and "changes nothing it sends now" in nobody
    back = _drumbeat(session_factory, cfg, "USAM", "rhythm on team_scoreboard sdrw")
    assert "*team_scoreboard* is *on for SDR West (`sdrw`)* again." in back
    again = _drumbeat(session_factory, cfg, "USAM", "rhythm on team_scoreboard sdrw")
    assert "was not switched off for SDR West" in again
    assert sorted(_rows(session_factory)) == [("control_tower", "ae"), ("daily_scoreboard", "sdrw")]


def test_rhythm_subcommands_refuse_what_they_cannot_do(
    session_factory: sessionmaker[Session],
) -> None:
    data = leaders_data()
    data["rhythms"]["alerts"] = {"schedule": "*/30 9-18 * * mon-fri"}
    cfg = parse_org_config(data)
    seed(session_factory, cfg)
    cases = {
        "rhythm off team_scoreboard narnia": (
            "Not changed: no team `narnia`: known are ae, sdr, sdrw"
        ),
        "rhythm off team_scoreboard sdrw please": "no team `sdrw please`",
        "rhythm on daily_scoreboard sdr now": "no team `sdr now`",
        "rhythm off nope sdrw": "no rhythm `nope`: known are alerts, control_tower, daily",
        "rhythm off alerts sdrw": "alerts go by their rules, each with its own scope",
        'rhythm time team_scoreboard sdrw "0 9 * * mon-fri"': (
            "a rhythm has one schedule, so it can't be retimed for one team"
        ),
        "rhythm time daily_scoreboard sdrw": "give that team a rhythm of its own in drumbeat.toml",
        "rhythm time daily_scoreboard 30 18 * *": (  # four fields: not a cron
            'put the schedule in quotes: `/drumbeat rhythm time daily_scoreboard "30 18 * *"`'
        ),
        "rhythm pause maple": "Use `/drumbeat rhythm on|off NAME` (everyone)",
        "rhythm off": "Use `/drumbeat rhythm on|off NAME` (everyone)",
    }
    for text, expected in cases.items():
        assert expected in _drumbeat(session_factory, cfg, "USAM", text), text
    how = _drumbeat(session_factory, cfg, "USAM", 'rhythm time daily_scoreboard sdrw "0 9 * * *"')
    assert '`[rhythms.daily_scoreboard_sdrw]` with `kind = "daily_scoreboard"`' in how
    assert "`/drumbeat rhythm off daily_scoreboard sdrw`" in how
    assert "Only admins" in _drumbeat(session_factory, cfg, "UMARIA", "rhythm off maple sdrw")
    assert _rows(session_factory) == []
    with session_factory() as session:
        assert session.scalars(select(RhythmOverride)).all() == []
        assert session.scalars(select(AuditEntry)).all() == []
