"""The bulk alert paths against the per-subject and per-row paths they replace.

Small orgs in five zones (two DST regimes, one without DST), at instants around the 2026 DST
changes: sharing per zone, per (team, role) and per tick must not change any observation.
"""

from __future__ import annotations

import datetime as dt
import gc
import tomllib
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from metrics.batch import daily_series_by_person
from metrics.directory import apply_directory, person_timezone
from metrics.lookup import Scope, catalog_for, metric_value
from metrics.models import MetricDaily, Person
from metrics.scoreboards import work_calendar
from metrics.targets import expected_by, group_target, status_for
from rhythms import alert_state
from rhythms.alert_gc import cycle_collection_paused
from rhythms.alert_outbox import Outgoing, enqueue_many
from rhythms.alert_people import load_directory
from rhythms.alert_rules import (
    TURNS_RED_FROM,
    Subject,
    observe,
    red_days_for,
    subjects_for,
)
from rhythms.alert_state import Observation, transition_many
from rhythms.alerts import evaluate_rules
from rhythms.blocks import fmt_number
from rhythms.config import OrgConfig, parse_org_config
from rhythms.models import AlertEvent, AlertState, Delivery
from rhythms.outbox import enqueue
from tests.conftest import EXAMPLE_CONFIG

ZONES = ("America/New_York", "America/Chicago", "America/Phoenix", "Europe/London", "")
MONDAY = dt.date(2026, 11, 23)
INSTANTS = (
    dt.datetime(2026, 3, 9, 14, 5, tzinfo=dt.UTC),  # US on summer time since Sunday, UK not
    dt.datetime(2026, 10, 28, 15, 35, tzinfo=dt.UTC),  # UK back on GMT, US still summer
    dt.datetime(2026, 11, 2, 16, 5, tzinfo=dt.UTC),  # US back on standard time since Sunday
    dt.datetime(2026, 11, 23, 18, 5, tzinfo=dt.UTC),
)


def _config(reps: int = 24, **rule_changes: Any) -> OrgConfig:
    raw = tomllib.loads(EXAMPLE_CONFIG.read_text())
    teams = [t["key"] for t in raw["teams"]]
    raw["people"] = [p for p in raw["people"] if p.get("role") != "rep" or "targets" in p] + [
        {
            "email": f"rep{i}@acme.example",
            "name": f"Rep {i:02d}",
            "role": "rep",
            "team": teams[i % len(teams)],
            **({"timezone": ZONES[i % len(ZONES)]} if ZONES[i % len(ZONES)] else {}),
            **({"targets": {"calls": {"daily": 20 + i}}} if i % 7 == 3 else {}),
        }
        for i in range(reps)
    ]
    for rule in raw["alerts"]:
        rule.update(rule_changes)
    return parse_org_config(raw)


def _seed(session: Session, cfg: OrgConfig, days: list[dt.date]) -> dict[str, Person]:
    apply_directory(session, cfg, today=days[0])
    people = {p.email: p for p in session.scalars(select(Person).order_by(Person.id))}
    for p in people.values():
        p.slack_user_id = f"U{p.id:05d}"
    for p in people.values():
        if p.role != "rep":
            continue
        for back, day in enumerate(days):
            for metric, value in (("calls", (p.id * 7 + back * 3) % 50), ("meetings_booked", 0)):
                if metric == "meetings_booked":
                    value = (p.id + back) % 4 if back else p.id % 3
                if p.id % 5 == 0 and back == 0:
                    continue  # silent today: no row at all
                session.add(
                    MetricDaily(
                        person_id=p.id, metric=metric, day=day, value=value, team_key=p.team_key
                    )
                )
    session.commit()
    return people


def _days(at: dt.datetime, n: int = 22) -> list[dt.date]:
    first = (at - dt.timedelta(hours=12)).date()
    return [first + dt.timedelta(days=1 - i) for i in range(n + 2)]


@pytest.mark.parametrize("at", INSTANTS, ids=lambda a: a.strftime("%m-%d"))
def test_observe_equals_one_subject_at_a_time(session: Session, at: dt.datetime) -> None:
    cfg = _config()
    _seed(session, cfg, _days(at))
    work = work_calendar(cfg)
    checked = 0
    for hours_only in (True, False):
        for base in cfg.alerts:
            rule = base.model_copy(update={"working_hours_only": hours_only})
            subjects = subjects_for(session, cfg, rule)
            fast = observe(session, config=cfg, rule=rule, subjects=subjects, now=at)
            slow = [
                seen
                for subject in subjects
                for seen in observe(session, config=cfg, rule=rule, subjects=[subject], now=at)
            ]
            assert fast == slow, rule.name
            defn = catalog_for(cfg).get(rule.metric)
            for seen in fast:
                local = at.astimezone(ZoneInfo(seen.subject.timezone))
                day = local.date()
                if seen.subject.person is not None and defn.special is None:
                    scope = Scope.person(seen.subject.person.id)
                    value = metric_value(
                        session, config=cfg, metric=rule.metric, scope=scope, start=day, end=day
                    ).value
                    assert seen.obs.value == value
                if rule.condition == "turns_red" and seen.obs.value is not None:
                    target = group_target(cfg, work, defn, seen.subject.members, day, day)
                    pace = expected_by(target, defn, work=work, start=day, end=day, local_now=local)
                    if work.day_fraction_elapsed(local) < TURNS_RED_FROM:  # too early to judge
                        assert not seen.obs.breached and not seen.obs.cleared
                        continue
                    assert f" of {fmt_number(pace or 0)} due by now" in seen.detail
                    status = status_for(seen.obs.value, pace, cfg.org)
                    assert seen.obs.breached == (status == "red")
                    checked += 1
    assert checked > 0


def _red_days_reference(
    session: Session, cfg: OrgConfig, metric: str, subjects: list[Subject], day: dt.date
) -> dict[str, int]:
    """The per-subject algorithm this replaced: 21 days of series, one target per day."""
    work = work_calendar(cfg)
    defn = catalog_for(cfg).get(metric)
    start = day - dt.timedelta(days=21)
    ids = sorted({p.id for s in subjects for p in s.members})
    series = daily_series_by_person(
        session, defn=defn, person_ids=ids, start=start, end=day - dt.timedelta(days=1)
    )
    out = {}
    for subject in subjects:
        count = 0
        for offset in range(20, -1, -1):
            past = start + dt.timedelta(days=offset)
            if not work.is_working_day(past):
                continue
            total = sum(series[p.id][offset] for p in subject.members)
            target = group_target(cfg, work, defn, subject.members, past, past)
            if target is None or status_for(total, target, cfg.org) != "red":
                break
            count += 1
            if count >= 10:
                break
        out[subject.key] = count
    return out


def test_red_day_streaks_equal_the_three_week_scan(session: Session) -> None:
    cfg = _config(reps=30)
    at = INSTANTS[-1]
    people = _seed(session, cfg, _days(at, 30))
    # long streaks: some reps silent for weeks (no rows at all), across Thanksgiving
    silent = [p.id for p in people.values() if p.role == "rep" and p.id % 3 == 0]
    session.execute(
        update(MetricDaily)
        .where(MetricDaily.person_id.in_(silent), MetricDaily.day >= MONDAY - dt.timedelta(days=19))
        .values(value=0)
    )
    session.commit()
    for rule in cfg.alerts:
        for level in ("person", "team"):
            scoped = rule.model_copy(
                update={"scope": rule.scope.model_copy(update={"level": level})}
            )
            subjects = subjects_for(session, cfg, scoped)
            fast = red_days_for(session, config=cfg, rule=scoped, subjects=subjects, day=MONDAY)
            assert fast == _red_days_reference(session, cfg, rule.metric, subjects, MONDAY)
            if level == "person" and rule.metric == "calls":
                streaks = set(fast.values())  # capped, broken, and in between
                assert {0, 10} <= streaks and any(0 < n < 10 for n in streaks)


def _states(session: Session, rule: str) -> dict[str, tuple[Any, ...]]:
    rows = session.scalars(select(AlertState).where(AlertState.rule == rule))
    return {r.subject: (r.state, r.version, r.acked_by, r.delivery_id) for r in rows}


BREACH = Observation(True, False, 1.0)
CLEAR = Observation(False, True, 50.0)


def test_transition_many_keeps_compare_and_set_per_row(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = dt.datetime(2026, 11, 23, 15, tzinfo=dt.UTC)
    grace, cool = dt.timedelta(0), dt.timedelta(minutes=10)
    first = transition_many(
        session,
        rule="r",
        observations={"a": BREACH, "b": BREACH, "c": BREACH},
        now=t0,
        grace=grace,
        cooldown=cool,
    )
    session.commit()
    assert [(t.subject, t.emit) for t in first] == [("a", "fire"), ("b", "fire"), ("c", "fire")]
    assert alert_state.acknowledge(session, rule="r", subject="a", by="U1", now=t0)
    session.commit()

    # Another evaluator changes "b" and creates "e" after this one has read the rows.
    real_cas, real_insert = alert_state._compare_and_set, alert_state._insert_new

    def racing_cas(s: Session, rows: list[dict[str, Any]], *, fires: bool) -> set[str]:
        s.execute(update(AlertState).where(AlertState.subject == "b").values(version=99))
        return real_cas(s, rows, fires=fires)

    def racing_insert(s: Session, rows: list[dict[str, Any]]) -> set[str]:
        s.add(AlertState(rule="r", subject="e", state="pending", since=t0, version=1, red_days=0))
        s.flush()
        return real_insert(s, rows)

    monkeypatch.setattr(alert_state, "_compare_and_set", racing_cas)
    monkeypatch.setattr(alert_state, "_insert_new", racing_insert)
    t1 = t0 + dt.timedelta(minutes=5)
    second = transition_many(
        session,
        rule="r",
        observations={"a": CLEAR, "b": CLEAR, "c": BREACH, "d": BREACH, "e": BREACH},
        now=t1,
        grace=grace,
        cooldown=cool,
    )
    session.commit()
    assert [(t.subject, t.emit, t.fired_at) for t in second] == [
        ("a", "resolve", t0),
        ("d", "fire", t1),
    ]  # "b" and "e" were the other evaluator's; "c" is still firing: nothing to write
    states = _states(session, "r")
    assert states["a"] == ("resolved", 3, "U1", None)  # the ack survives a resolve
    assert states["b"] == ("firing", 99, None, None) and states["e"][0] == "pending"
    assert states["c"] == ("firing", 1, None, None)
    events = session.scalars(select(AlertEvent).where(AlertEvent.at == t1)).all()
    assert sorted((e.subject, e.event) for e in events) == [("a", "resolve"), ("d", "fire")]

    # After the cooldown "a" fires again: its old acknowledgement is cleared.
    monkeypatch.undo()
    third = transition_many(
        session,
        rule="r",
        observations={"a": BREACH},
        now=t1 + cool,
        grace=grace,
        cooldown=cool,
    )
    session.commit()
    assert [(t.subject, t.emit) for t in third] == [("a", "fire")]
    assert _states(session, "r")["a"] == ("firing", 4, None, None)


def test_enqueue_many_writes_what_enqueue_writes(session: Session) -> None:
    now = dt.datetime(2026, 11, 23, 18, 5, tzinfo=dt.UTC)
    held = now + dt.timedelta(hours=9)
    items = [
        Outgoing("U1", "fire", {"text": "one", "blocks": [{"type": "divider"}]}),
        Outgoing("U2", "fire", {"text": "two"}, held),
        Outgoing("#ops", "fire:abc", {"text": "three"}),
    ]
    for item in items:
        enqueue(
            session,
            rhythm="slow",
            period_key="p",
            recipient=item.recipient,
            part=item.part,
            payload=item.payload,
            now=now,
            not_before=item.not_before,
        )
    assert enqueue_many(session, rhythm="fast", period_key="p", items=items, now=now) == 3
    assert enqueue_many(session, rhythm="fast", period_key="p", items=items, now=now) == 0
    session.commit()

    def rows(rhythm: str) -> list[tuple[Any, ...]]:
        found = session.scalars(select(Delivery).where(Delivery.rhythm == rhythm))
        return sorted(
            (
                d.period_key,
                d.recipient,
                d.part,
                d.kind,
                d.payload,
                d.status,
                d.attempts,
                d.not_before,
                d.created_at,
                d.thread_of_id,
                d.run_id,
            )
            for d in found
        )

    assert rows("fast") == rows("slow") and len(rows("fast")) == 3
    with pytest.raises(ValueError, match="lacks text"):
        enqueue_many(
            session, rhythm="fast", period_key="q", items=[Outgoing("U", "x", {})], now=now
        )


def test_directory_rows_match_people_and_changes_are_seen_next_tick(session: Session) -> None:
    cfg = _config(reps=6)
    at = dt.datetime(2026, 11, 23, 10, 35, tzinfo=dt.UTC)  # 10:35 London: nobody due yet
    people = _seed(session, cfg, _days(at))
    session.execute(delete(MetricDaily).where(MetricDaily.day == at.date()))  # no calls today
    session.commit()
    directory = load_directory(session, org_timezone=cfg.org.timezone)
    orm = list(session.scalars(select(Person).order_by(Person.id)))
    assert [m.id for m in directory.everyone] == [p.id for p in orm]
    for member, person in zip(directory.everyone, orm, strict=True):
        assert member.timezone == person_timezone(person, cfg.org.timezone)
        assert (member.email, member.name, member.role, member.team_key) == (
            person.email,
            person.name,
            person.role,
            person.team_key,
        )
        assert (member.manager_id, member.slack_user_id, member.active) == (
            person.manager_id,
            person.slack_user_id,
            person.active,
        )
    assert [m.email for m in directory.execs] == ["olivia.hart@acme.example"]

    sdr_only = cfg.model_copy(update={"alerts": cfg.alerts[:1]})
    assert evaluate_rules(session, config=sdr_only, now=at)[0].fired == []
    manager = people["maria.gonzalez@acme.example"]
    manager.slack_user_id = "UNEWMARIA"  # no updated_at bump: a raw edit
    session.commit()
    later = evaluate_rules(session, config=sdr_only, now=at + dt.timedelta(hours=6))
    session.commit()
    assert later[0].fired
    fires = session.scalars(select(Delivery).where(Delivery.part == "fire")).all()
    assert [d.recipient for d in fires] == ["UNEWMARIA"]


def test_cycle_collection_pause_nests_and_restores() -> None:
    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_resolution_updates_every_message_of_an_ungrouped_firing(session: Session) -> None:
    """One message per subject (group = false): resolving two at once updates both."""
    cfg = _config(reps=6, group=False)
    cfg = cfg.model_copy(update={"alerts": cfg.alerts[:1]})  # no calls by 11:00, SDRs
    at = dt.datetime(2026, 11, 23, 18, 5, tzinfo=dt.UTC)
    people = _seed(session, cfg, _days(at))
    session.execute(delete(MetricDaily).where(MetricDaily.day == at.date()))
    session.commit()
    fired = evaluate_rules(session, config=cfg, now=at)[0].fired
    session.commit()
    originals = session.scalars(select(Delivery).where(Delivery.part.startswith("fire"))).all()
    assert len(fired) == len(originals) >= 2
    assert len({d.recipient for d in originals}) == 1  # all to the SDR manager
    for n, d in enumerate(originals):
        d.status, d.channel, d.ts = "sent", "D1", f"17000000{n:02d}.000100"
    by_key = {f"person:{p.id}": p for p in people.values()}
    for key in fired:
        p = by_key[key]
        session.add(
            MetricDaily(person_id=p.id, metric="calls", day=at.date(), value=9, team_key="sdr")
        )
    session.commit()
    resolved = evaluate_rules(session, config=cfg, now=at + dt.timedelta(minutes=30))[0]
    session.commit()
    assert sorted(resolved.resolved) == sorted(fired)
    updates = session.scalars(select(Delivery).where(Delivery.kind == "update")).all()
    assert sorted(u.thread_of_id for u in updates) == sorted(d.id for d in originals)
