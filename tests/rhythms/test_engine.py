"""The engine on both databases: local times across zones, weekends and holidays, DST,
catch-up within grace, restarts mid-run, failures and out-of-office."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.models import Person
from rhythms import delivery_batch
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery, RhythmOverride, RhythmRun
from rhythms.registry import default_registry
from tests.support.rhythms import REPS, FakeScoreboards, make_config, seed_directory

UTC = dt.UTC
ZONE_OF = {slack: zone for _email, _name, zone, slack in REPS}


def _engine(
    factory: sessionmaker[Session],
    clock: TravellingClock,
    source: object | None = None,
    **kwargs: object,
) -> RhythmEngine:
    cfg = make_config(**kwargs)
    return RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=clock,
        registry=default_registry(source or FakeScoreboards()),
    )


def _run_ticks(engine: RhythmEngine, clock: TravellingClock, end: dt.datetime) -> None:
    """Tick every 15 min through the US evening (21:00-03:00 UTC), hourly otherwise."""
    while clock.now() < end:
        busy = clock.now().hour >= 21 or clock.now().hour < 3
        clock.advance(dt.timedelta(minutes=15 if busy else 60))
        engine.tick()


def _dms(session: Session) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery).where(Delivery.rhythm == "daily_scoreboard").order_by(Delivery.id)
        )
    )


def test_week_across_zones_weekend_and_holiday(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    # Mon 23 Nov 2026 .. Mon 30 Nov 00:00 UTC; Thu 26 Nov is Thanksgiving.
    clock = TravellingClock(dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    engine = _engine(session_factory, clock)
    _run_ticks(engine, clock, dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    with session_factory() as session:
        dms = _dms(session)
        per_rep = Counter(d.recipient for d in dms)
        assert per_rep == {slack: 4 for *_x, slack in REPS}  # Mon, Tue, Wed, Fri
        for d in dms:
            local = d.created_at.astimezone(ZoneInfo(ZONE_OF[d.recipient]))
            assert (local.hour, local.minute) == (17, 30), (d.recipient, local)
            assert local.date().isoformat() in d.period_key
            assert local.weekday() < 5 and local.day != 26
        # 17:30 in Chicago and in New York are different instants.
        chicago = {d.created_at for d in dms if d.recipient == "UDANA01"}
        new_york = {d.created_at for d in dms if d.recipient == "ULEO001"}
        assert not chicago & new_york
        holiday = session.scalars(
            select(RhythmRun).where(
                RhythmRun.period_key == "daily_scoreboard:2026-11-26:America/Chicago"
            )
        ).one()
        assert holiday.status == "skipped" and "Thanksgiving" in (holiday.error or "")
        # team scoreboard: manager DM and team channel on each working day
        team = Counter(
            d.recipient
            for d in session.scalars(select(Delivery).where(Delivery.rhythm == "team_scoreboard"))
        )
        assert team == {"UMARIA1": 4, "#team-sdr": 4}
        statuses = Counter(r.status for r in session.scalars(select(RhythmRun)))
        assert set(statuses) <= {"done", "skipped"}


def test_dst_change_neither_skips_nor_doubles(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    # Chicago leaves daylight time on Sun 1 Nov 2026.
    clock = TravellingClock(dt.datetime(2026, 10, 28, 12, 0, tzinfo=UTC))
    engine = _engine(session_factory, clock)
    _run_ticks(engine, clock, dt.datetime(2026, 11, 4, 12, 0, tzinfo=UTC))
    with session_factory() as session:
        dana = [d for d in _dms(session) if d.recipient == "UDANA01"]
        days = [d.period_key.split(":")[1] for d in dana]
        assert days == ["2026-10-28", "2026-10-29", "2026-10-30", "2026-11-02", "2026-11-03"]
        utc_hours = [d.created_at.hour for d in dana]
        assert utc_hours == [22, 22, 22, 23, 23]
        local = {d.created_at.astimezone(ZoneInfo("America/Chicago")).time() for d in dana}
        assert local == {dt.time(17, 30)}


def test_catch_up_within_grace_runs_late_once(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    # Down from before 17:30 Chicago (23:30 UTC) until 19:15 Chicago: 105 min late.
    clock = TravellingClock(dt.datetime(2026, 11, 24, 1, 15, tzinfo=UTC))
    engine = _engine(session_factory, clock)
    engine.tick()
    clock.advance(dt.timedelta(minutes=1))
    engine.tick()
    with session_factory() as session:
        dana = [d for d in _dms(session) if d.recipient == "UDANA01"]
        assert len(dana) == 1
        assert dana[0].created_at == dt.datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
        # Los Angeles (17:30 = 01:30 UTC) is not due yet; it runs on time later.
        assert not [d for d in _dms(session) if d.recipient == "UCHLOE1"]
    clock.set(dt.datetime(2026, 11, 24, 1, 30, tzinfo=UTC))
    engine.tick()
    with session_factory() as session:
        assert [d.recipient for d in _dms(session)].count("UCHLOE1") == 1


def test_older_misses_are_skipped_not_sent(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    clock = TravellingClock(dt.datetime(2026, 11, 20, 23, 30, tzinfo=UTC))  # Fri 17:30 CST
    engine = _engine(session_factory, clock)
    engine.tick()
    # Down all weekend and Monday; back on Monday 23 Nov at 21:00 Chicago (3.5 h late).
    clock.set(dt.datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    engine.tick()
    with session_factory() as session:
        dana = [d.period_key for d in _dms(session) if d.recipient == "UDANA01"]
        assert dana == ["daily_scoreboard:2026-11-20"]
        monday = session.scalars(
            select(RhythmRun).where(
                RhythmRun.period_key == "daily_scoreboard:2026-11-23:America/Chicago"
            )
        ).one()
        assert monday.status == "skipped"
        assert "beyond the 120 min grace window" in (monday.error or "")


def test_restart_mid_run_sends_nobody_twice_nobody_nothing(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)

    class Crash(BaseException):
        """Stands in for the process dying mid-run."""

    written: list[str] = []
    real_insert = delivery_batch.insert_chunk

    def crash_after_first(session: Session, rows: list[dict[str, Any]]) -> None:
        if rows[0]["recipient"] in ("UDANA01", "UAISHA1"):  # the Chicago run
            if written:  # the second Chicago rep: die with one delivery written
                session.flush()
                raise Crash
            written.append(rows[0]["recipient"])
        real_insert(session, rows)

    monkeypatch.setattr(delivery_batch, "insert_chunk", crash_after_first)
    at = dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 17:30 Chicago, 18:30 New York
    clock = TravellingClock(at)
    first = _engine(session_factory, clock)
    first.delivery_chunk = 1  # one INSERT per delivery, so it can die between two
    with pytest.raises(Crash):
        first.tick()
    monkeypatch.undo()
    with session_factory() as session:
        crashed = session.scalars(select(RhythmRun).where(RhythmRun.status == "running")).one()
        assert crashed.claimed_by == first.replica
        assert crashed.period_key == "daily_scoreboard:2026-11-23:America/Chicago"
        assert not [d for d in _dms(session) if d.recipient in ("UDANA01", "UAISHA1")]
    key = "daily_scoreboard:2026-11-23"  # deliveries carry the run key without its zone
    zone = "America/Chicago"
    expected = sorted(slack for _e, _n, z, slack in REPS if z == zone)

    def sent_for_run() -> list[str]:
        with session_factory() as session:
            return sorted(
                d.recipient
                for d in _dms(session)
                if d.period_key == key and d.recipient in expected
            )

    # A restarted process does not steal a run whose lease is still live...
    clock.advance(dt.timedelta(minutes=5))
    second = _engine(session_factory, clock)
    second.tick()
    assert sent_for_run() == []
    # ...and takes it over once the lease has expired.
    clock.advance(dt.timedelta(minutes=6))
    second.tick()
    second.tick()
    assert sent_for_run() == expected
    with session_factory() as session:
        run = session.get(RhythmRun, crashed.id)
        assert run is not None and run.status == "done" and run.deliveries == len(expected)
    # Re-executing a finished run (forced back to running) enqueues nobody twice.
    with session_factory() as session:
        session.execute(
            update(RhythmRun)
            .where(RhythmRun.id == crashed.id)
            .values(status="running", started_at=at - dt.timedelta(hours=1))
        )
        session.commit()
    second.tick()
    assert sent_for_run() == expected
    with session_factory() as session:
        per_key = Counter((d.recipient, d.period_key) for d in _dms(session))
        assert set(per_key.values()) == {1}


def test_failed_run_is_recorded_and_admin_told(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    with session_factory() as session:
        dana = session.scalars(select(Person).where(Person.email == "dana@acme.example")).one()
    clock = TravellingClock(dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    engine = _engine(session_factory, clock, FakeScoreboards(fail_for={dana.id}))
    engine.tick()
    with session_factory() as session:
        run = session.scalars(
            select(RhythmRun).where(
                RhythmRun.period_key == "daily_scoreboard:2026-11-23:America/Chicago"
            )
        ).one()
        assert run.status == "failed" and f"person {dana.id}" in (run.error or "")
        admin = session.scalars(
            select(Delivery).where(
                Delivery.recipient == "#revops", Delivery.period_key == run.period_key
            )
        ).one()
        assert admin.part == "failure" and "metrics unavailable" in admin.payload["text"]
        assert not [d for d in _dms(session) if d.recipient == "UAISHA1"]


def test_out_of_office_and_missing_slack_id_get_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    with session_factory() as session:
        session.execute(
            update(Person)
            .where(Person.email == "dana@acme.example")
            .values(
                out_of_office_from=dt.date(2026, 11, 23), out_of_office_until=dt.date(2026, 11, 24)
            )
        )
        session.execute(
            update(Person).where(Person.email == "aisha@acme.example").values(slack_user_id=None)
        )
        session.commit()
    clock = TravellingClock(dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    engine = _engine(session_factory, clock)
    engine.tick()
    with session_factory() as session:
        recipients = {d.recipient for d in _dms(session)}
        assert "UDANA01" not in recipients and "UAISHA1" not in recipients
        assert "ULEO001" in recipients
        run = session.scalars(
            select(RhythmRun).where(RhythmRun.period_key.like("%2026-11-23:America/Chicago"))
        ).one()
        assert run.status == "done"
        assert "out of office: dana@acme.example" in (run.error or "")
        assert "no Slack user id, not sent: aisha@acme.example" in (run.error or "")


def test_switchboard_override_beats_config(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    at = dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    with session_factory() as session:
        session.add(
            RhythmOverride(rhythm="daily_scoreboard", enabled=False, changed_by="U1", changed_at=at)
        )
        session.commit()
    clock = TravellingClock(at)
    _engine(session_factory, clock).tick()
    with session_factory() as session:
        assert _dms(session) == []
        assert (
            session.scalars(select(RhythmRun).where(RhythmRun.rhythm == "daily_scoreboard")).all()
            == []
        )
        session.execute(update(RhythmOverride).values(enabled=None, schedule="0 18 * * mon-fri"))
        session.commit()
    clock.set(dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC))  # 18:00 Chicago, 19:00 New York
    _engine(session_factory, clock).tick()
    with session_factory() as session:
        sent = {d.recipient: d.period_key for d in _dms(session)}
        # New York's 18:00 was an hour ago (within grace); LA's 18:00 is still ahead.
        assert sorted(sent) == ["UAISHA1", "UDANA01", "ULEO001"]


def test_yesterday_option_reports_the_previous_working_day(
    session_factory: sessionmaker[Session],
) -> None:
    seed_directory(session_factory, make_config())
    clock = TravellingClock(dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC))  # Monday
    _engine(session_factory, clock, options={"day": "yesterday"}).tick()
    with session_factory() as session:
        dana = next(d for d in _dms(session) if d.recipient == "UDANA01")
        assert dana.period_key == "daily_scoreboard:2026-11-23"
        assert dana.payload["blocks"][0]["text"]["text"].endswith(
            "Yesterday's scoreboard · Fri 20 Nov"
        )


def test_bad_override_is_ignored_and_planning_errors_reach_the_admin(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_directory(session_factory, make_config())
    at = dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    with session_factory() as session:
        session.add(
            RhythmOverride(
                rhythm="daily_scoreboard", schedule="99 99 * * *", changed_by="U1", changed_at=at
            )
        )
        session.commit()
    clock = TravellingClock(at)
    engine = _engine(session_factory, clock)
    engine.tick()  # the bad cron is ignored: the config's schedule still runs
    with session_factory() as session:
        assert "UDANA01" in {d.recipient for d in _dms(session)}

    def broken(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise RuntimeError("directory unavailable")

    monkeypatch.setattr(engine, "_zones", broken)
    clock.advance(dt.timedelta(minutes=1))
    engine.tick()
    engine.tick()
    with session_factory() as session:
        notices = session.scalars(
            select(Delivery).where(Delivery.recipient == "#revops", Delivery.part == "failure")
        ).all()
        texts = sorted(n.payload["text"] for n in notices)
        assert len(texts) == 2  # one per rhythm per hour, however many ticks
        assert all("directory unavailable" in t for t in texts)


def test_a_rep_whose_zone_changes_is_served_once(session_factory: sessionmaker[Session]) -> None:
    seed_directory(session_factory, make_config())
    with session_factory() as session:
        session.execute(
            update(Person)
            .where(Person.email == "dana@acme.example")
            .values(timezone_override="America/New_York")
        )
        session.commit()
    clock = TravellingClock(dt.datetime(2026, 11, 23, 22, 30, tzinfo=UTC))  # 17:30 New York
    engine = _engine(session_factory, clock)
    engine.tick()
    with session_factory() as session:  # she flies to Chicago before 17:30 there
        session.execute(
            update(Person)
            .where(Person.email == "dana@acme.example")
            .values(timezone_override="America/Chicago")
        )
        session.commit()
    clock.set(dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC))  # 17:30 Chicago
    engine.tick()
    with session_factory() as session:
        dana = [d for d in _dms(session) if d.recipient == "UDANA01"]
        assert len(dana) == 1 and dana[0].created_at.hour == 22
        chicago = session.scalars(
            select(RhythmRun).where(
                RhythmRun.period_key == "daily_scoreboard:2026-11-23:America/Chicago"
            )
        ).one()
        assert chicago.status == "done"
        aisha = [d for d in _dms(session) if d.recipient == "UAISHA1"]
        assert len(aisha) == 1
