from __future__ import annotations

import datetime as dt
import json
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.blockkit import validate_blocks
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.alerts import act_on_message, evaluate_rules, quiet_until
from rhythms.config import OrgConfig, load_org_config
from rhythms.models import AlertState, Delivery
from tests.conftest import EXAMPLE_CONFIG

MONDAY = dt.date(2026, 11, 23)


def _config(**rule_changes: object) -> OrgConfig:
    cfg = load_org_config(EXAMPLE_CONFIG)
    rules = tuple(
        r.model_copy(update=rule_changes) if r.name == "sdr-no-calls-by-11" else r
        for r in cfg.alerts
        if r.name == "sdr-no-calls-by-11"
    )
    return cfg.model_copy(update={"alerts": rules})


def _setup(session: Session, cfg: OrgConfig) -> dict[str, Person]:
    apply_directory(session, cfg, today=MONDAY)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for p in people.values():
        p.slack_user_id = f"U{p.id:05d}"
    session.commit()
    return people


def _calls(session: Session, person: Person, n: float, day: dt.date = MONDAY) -> None:
    row = session.get(MetricDaily, (person.id, "calls", day))
    if row is None:
        session.add(
            MetricDaily(
                person_id=person.id, metric="calls", day=day, value=n, team_key=person.team_key
            )
        )
    else:
        row.value = n
    session.commit()


def _at(hour: int, minute: int = 5) -> dt.datetime:
    return dt.datetime(2026, 11, 23, hour, minute, tzinfo=dt.UTC)


def _fires(session: Session) -> list[Delivery]:
    return list(
        session.scalars(select(Delivery).where(Delivery.part == "fire").order_by(Delivery.id))
    )


def test_grouped_fire_once_resolve_updates_and_ack(session: Session) -> None:
    cfg = _config()
    people = _setup(session, cfg)
    _calls(session, people["dana"], 12)
    # 18:05 UTC: 13:05 New York, 12:05 Chicago, 11:05 Denver: all SDRs past 11:00 local
    evaluate_rules(session, config=cfg, now=_at(18))
    session.commit()
    fires = _fires(session)
    assert len(fires) == 1  # one grouped message to the SDR manager, not three
    assert fires[0].recipient == people["maria"].slack_user_id
    text = json.dumps(fires[0].payload["blocks"], ensure_ascii=False)
    assert fires[0].payload["text"].startswith("⚠️ 3 · No calls by 11:00")
    for name in ("Leo Martin", "Aisha Khan", "Ben Carter"):
        assert name in text
    assert "Dana Ruiz" not in text
    assert validate_blocks(fires[0].payload["blocks"]) == []

    evaluate_rules(session, config=cfg, now=_at(18, 35))  # still no calls: no re-alert
    session.commit()
    assert len(_fires(session)) == 1

    fires[0].status, fires[0].channel, fires[0].ts = "sent", "D1", "1700000000.000100"
    session.commit()
    _calls(session, people["leo"], 2)
    evaluate_rules(session, config=cfg, now=_at(19))
    session.commit()
    updates = session.scalars(select(Delivery).where(Delivery.kind == "update")).all()
    assert len(updates) == 1 and updates[0].thread_of_id == fires[0].id
    assert "✅ ~*Leo Martin*" in json.dumps(updates[0].payload["blocks"], ensure_ascii=False)
    assert len(_fires(session)) == 1  # resolving updated the message, no new ping

    reply = act_on_message(
        session,
        config=cfg,
        action="ack",
        channel="D1",
        ts="1700000000.000100",
        user="U99999",
        now=_at(19, 10),
        zone="America/New_York",
    )
    session.commit()
    assert reply == "Acknowledged 2 alert(s)."
    state = session.get(AlertState, ("sdr-no-calls-by-11", f"person:{people['ben'].id}"))
    assert state is not None and state.acked_by == "U99999"
    latest = session.scalars(
        select(Delivery).where(Delivery.kind == "update").order_by(Delivery.id.desc())
    ).first()
    assert latest is not None and "acknowledged by <@U99999>" in json.dumps(latest.payload)


def test_not_due_before_local_time_and_grace(session: Session) -> None:
    cfg = _config(grace_minutes=30)
    _setup(session, cfg)
    evaluate_rules(session, config=cfg, now=_at(15, 5))  # 10:05 NY: nobody due yet
    session.commit()
    assert _fires(session) == []
    evaluate_rules(session, config=cfg, now=_at(16, 5))  # 11:05 NY: pending (grace)
    session.commit()
    assert _fires(session) == []
    evaluate_rules(session, config=cfg, now=_at(16, 35))  # grace over: fires
    session.commit()
    fires = _fires(session)
    assert len(fires) == 1
    assert "Leo Martin" in json.dumps(fires[0].payload) and "Aisha" not in json.dumps(
        fires[0].payload
    )


def test_quiet_hours_hold_until_morning() -> None:
    cfg = _config(quiet_hours=(dt.time(19, 0), dt.time(8, 0)), working_hours_only=False)
    rule = cfg.alerts[0]
    evening = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)  # 20:00 NY
    held = quiet_until(rule, "America/New_York", evening)
    assert held == dt.datetime(2026, 11, 24, 13, 0, tzinfo=dt.UTC)  # 08:00 NY
    assert quiet_until(rule, "America/New_York", _at(15)) is None
    early = dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC)  # 06:00 NY, same quiet night
    assert quiet_until(rule, "America/New_York", early) == held


def test_held_alert_is_delivered_once_after_quiet_hours(session: Session) -> None:
    cfg = _config(quiet_hours=(dt.time(19, 0), dt.time(8, 0)), working_hours_only=False)
    _setup(session, cfg)
    evening = dt.datetime(2026, 11, 24, 0, 30, tzinfo=dt.UTC)  # 19:30 NY
    evaluate_rules(session, config=cfg, now=evening)
    evaluate_rules(session, config=cfg, now=evening + dt.timedelta(minutes=30))
    session.commit()
    fires = _fires(session)
    assert len(fires) == 1
    assert fires[0].not_before == dt.datetime(2026, 11, 24, 13, 0, tzinfo=dt.UTC)


def test_two_replicas_evaluate_a_slot_once(session_factory: sessionmaker[Session]) -> None:
    cfg = _config()
    with session_factory() as s:
        _setup(s, cfg)
    barrier = threading.Barrier(2)
    done: list[int] = []

    def replica(name: str) -> None:
        barrier.wait()
        with session_factory() as s:
            results = evaluate_rules(s, config=cfg, now=_at(18), replica=name)
            s.commit()
        done.append(sum(len(r.fired) for r in results))

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(done) == [0, 4]  # one replica took the slot and fired all four SDRs
    with session_factory() as s:
        assert len(_fires(s)) == 1


def test_alerts_log_cli(db_url: str, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import main
    from metrics.store import make_engine, make_session_factory

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        cfg = _config()
        _setup(s, cfg)
        evaluate_rules(s, config=cfg, now=_at(18))
        s.commit()
    engine.dispose()
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    assert main(["alerts", "log", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4 and {x["event"] for x in lines} == {"fire"}
    assert main(["alerts", "log", "--limit", "0"]) == 2
