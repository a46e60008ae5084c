"""The batched scoreboards (`metrics.scoreboards`) against a straightforward per-person
computation: `metric_value` per person and day, `target_for_range` / `expected_by` /
`status_for` / `shortfall`, the streak walked day by day, the rank by share of pace.

A small org over several zones, with a company holiday, a US DST change, a personal target
override, team and role targets, a daily target of 0 (no target), a ratio input with a target,
a weekly-only target (no daily: not on the board), an inactive rep, a rep out of office, and a
rep who changed team (held to each day's team's targets: `_team_on`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.config import MetricConfig, MetricsConfig, PersonConfig, TargetSet
from metrics.directory import apply_directory, person_timezone
from metrics.lookup import Scope, catalog_for, metric_value
from metrics.models import MetricDaily, Person
from metrics.scoreboard import MetricStatus, PersonScoreboard
from metrics.scoreboards import (
    HISTORY_DAYS,
    STREAK_LOOKBACK_DAYS,
    person_scoreboard,
    team_scoreboards,
)
from metrics.targets import expected_by, resolve_target, shortfall, status_for, target_for_range
from tests.metrics.builders import BERLIN, CHICAGO, THANKSGIVING, config, local

FIRST = dt.date(2026, 10, 19)
MOVED = dt.date(2026, 11, 18)  # sam: ae -> sdr
LAST = dt.date(2026, 11, 30)


def _config(sam_team: str) -> MetricsConfig:
    base = config()
    people = (
        *base.people[:2],  # dana (Chicago, personal emails target), lee (Berlin)
        PersonConfig(  # New York
            email="sam@acme.test",
            name="Sam",
            role="rep",
            team=sam_team,
            targets={"emails": TargetSet(daily=0)},  # no emails target for Sam
        ),
        PersonConfig(
            email="kai@acme.test", name="Kai", role="rep", team="sdr", timezone="Asia/Tokyo"
        ),
        PersonConfig(email="ola@acme.test", name="Ola", role="rep", team="sdr", active=False),
        PersonConfig(email="mo@acme.test", name="Mo", role="manager", team="sdr"),
    )
    metrics = (
        *base.metrics[:2],  # calls (rep 10, sdr 8), emails (rep 4)
        MetricConfig(name="meetings_booked", targets={"rep": TargetSet(weekly=3)}),
        *(
            m.model_copy(update={"targets": {"rep": TargetSet(daily=3)}})
            if m.name == "avg_call_minutes"
            else m
            for m in base.metrics[2:]
        ),
    )
    return base.model_copy(update={"people": people, "metrics": metrics})


def _value(person: int, day: dt.date, base: str, steady: bool) -> float:
    """Deterministic, varied rollup values: most days meet every target, one in 7 misses
    (never for a steady person: a streak as long as the data)."""
    seed = (person * 7 + day.toordinal() * 3 + len(base)) % 5
    if base.endswith(".n"):
        return float(1 + seed % 3)
    if base.endswith(".sum"):
        return 10.0 + seed * 2.5
    return 2.0 if (day.toordinal() + person) % 7 == 0 and not steady else 12.0 + seed


@pytest.fixture
def cfg(session: Session) -> MetricsConfig:
    before = _config("ae")
    apply_directory(session, before, today=FIRST)
    after = _config("sdr")
    apply_directory(session, after, today=MOVED)
    people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}
    people["lee"].out_of_office_from = dt.date(2026, 11, 20)
    people["lee"].out_of_office_until = dt.date(2026, 11, 24)
    bases = sorted({b for d in catalog_for(after).metrics.values() for b in d.bases})
    day = FIRST
    while day <= LAST:
        for name, person in sorted(people.items()):
            team = "ae" if name == "sam" and day < MOVED else person.team_key
            for base in bases:
                if (person.id + day.toordinal() * len(base)) % 29 == 0 and name != "kai":
                    continue  # some rows absent
                value = _value(person.id, day, base, steady=name == "kai")
                session.add(
                    MetricDaily(
                        person_id=person.id, metric=base, day=day, value=value, team_key=team
                    )
                )
        day += dt.timedelta(days=1)
    session.flush()
    return after


def _team_on(person: Person, day: dt.date) -> str | None:
    """The team of the day, as the fixture moved Sam (not read from the memberships)."""
    return "ae" if person.email == "sam@acme.test" and day < MOVED else person.team_key


def _reference(
    session: Session, cfg: MetricsConfig, person: Person, day: dt.date, as_of: dt.datetime
) -> PersonScoreboard:
    work = WorkCalendar(cfg.calendar)
    zone = person_timezone(person, cfg.org.timezone)
    from zoneinfo import ZoneInfo

    local_now = as_of.astimezone(ZoneInfo(zone))
    who = {"email": person.email, "role": person.role, "team": _team_on(person, day)}

    def value(metric: str, on: dt.date) -> float:
        found = metric_value(
            session, config=cfg, metric=metric, scope=Scope.person(person.id), start=on, end=on
        ).value
        return 0.0 if found is None else found

    picked = []
    statuses = []
    for defn in catalog_for(cfg).metrics.values():
        if defn.kind != "input" or defn.special is not None:
            continue
        daily = resolve_target(cfg, defn.name, "daily", **who)
        if daily is None:
            continue
        got = value(defn.name, day)
        target: float | None = None
        expected: float | None = None
        if daily > 0:  # a daily target of 0 is no target
            picked.append((defn.name, daily))
            target = target_for_range(cfg, work, defn, day, day, **who)
            expected = expected_by(target, defn, work=work, start=day, end=day, local_now=local_now)
            if expected is not None and defn.unit == "count" and defn.additive:
                expected = float(math.floor(expected + 1e-9))  # whole calls, emails... due
        better = defn.higher_is_better
        statuses.append(
            MetricStatus(
                metric=defn.name,
                label=defn.label,
                unit=defn.unit,
                kind=defn.kind,
                value=got,
                target=target,
                expected_now=expected,
                status=status_for(got, expected, cfg.org, higher_is_better=better),
                shortfall=shortfall(got, expected, higher_is_better=better),
                history=tuple(
                    value(defn.name, day - dt.timedelta(days=back))
                    for back in range(HISTORY_DAYS - 1, -1, -1)
                ),
            )
        )

    def met(on: dt.date) -> bool:
        """At or above every daily target above 0 of the day's team (none: not met)."""
        team = _team_on(person, on)
        targets = [
            (defn.name, t)
            for defn in catalog_for(cfg).metrics.values()
            if defn.kind == "input" and defn.special is None
            if (t := resolve_target(cfg, defn.name, "daily", **{**who, "team": team}))
        ]
        return bool(targets) and all(value(metric, on) >= t for metric, t in targets)

    def away(on: dt.date) -> bool:
        start, until = person.out_of_office_from, person.out_of_office_until
        return start is not None and start <= on and (until is None or on <= until)

    streak = 0
    if picked:
        streak = 1 if work.is_working_day(day) and met(day) else 0
        for back in range(1, STREAK_LOOKBACK_DAYS + 1):
            past = day - dt.timedelta(days=back)
            if not work.is_working_day(past) or away(past):
                continue
            if not met(past):
                break
            streak += 1
    notes = []
    if work.holiday_name(day):
        notes.append(f"Holiday: {work.holiday_name(day)}")
    elif not work.is_working_day(day):
        notes.append("Not a working day")
    if away(day):
        notes.append("Out of office")
    return PersonScoreboard(
        person_id=person.id,
        name=person.name,
        email=person.email,
        slack_user_id=person.slack_user_id,
        team_key=person.team_key,
        timezone=zone,
        day=day,
        as_of=as_of.astimezone(dt.UTC),
        metrics=tuple(statuses),
        streak_days=streak,
        notes=tuple(notes),
    )


def _share(board: PersonScoreboard) -> float | None:
    """Share of pace over the metrics with something due; None: nothing due, not ranked."""
    shares = [
        min(m.value / m.expected_now, 2.0)
        for m in board.metrics
        if m.expected_now is not None and m.expected_now > 0
    ]
    return sum(shares) / len(shares) if shares else None


def _ranked(boards: list[PersonScoreboard]) -> list[PersonScoreboard]:
    from dataclasses import replace

    due = [(share, b) for b in boards if (share := _share(b)) is not None]
    order = [b for _, b in sorted(due, key=lambda sb: (-sb[0], sb[1].name))]
    waiting = sorted((b for b in boards if _share(b) is None), key=lambda b: b.name)
    ranked = [replace(b, team_rank=i, team_size=len(order)) for i, b in enumerate(order, 1)]
    return ranked + waiting


CASES = [
    (dt.date(2026, 11, 30), local(CHICAGO, 2026, 11, 30, 14, 0)),  # Berlin after hours
    (THANKSGIVING, local(CHICAGO, 2026, 11, 26, 12, 0)),  # company holiday, in the window after
    (dt.date(2026, 11, 27), local(CHICAGO, 2026, 11, 27, 8, 0)),  # before Chicago's day starts
    (dt.date(2026, 11, 2), local(CHICAGO, 2026, 11, 2, 10, 30)),  # Monday after US DST ended
    (dt.date(2026, 11, 21), local(BERLIN, 2026, 11, 21, 16, 0)),  # Saturday; lee out of office
    (dt.date(2026, 11, 24), local(CHICAGO, 2026, 11, 23, 20, 0)),  # a day not yet begun here
]


@pytest.mark.parametrize(("day", "as_of"), CASES, ids=[str(d) for d, _ in CASES])
def test_batched_scoreboards_equal_the_per_person_computation(
    session: Session, cfg: MetricsConfig, day: dt.date, as_of: dt.datetime
) -> None:
    people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}
    sdr = [people[n] for n in ("dana", "kai", "lee", "sam")]  # active reps (ola is inactive)
    expected = _ranked([_reference(session, cfg, p, day, as_of) for p in sdr])
    got = team_scoreboards(session, config=cfg, team_key="sdr", day=day, as_of=as_of)
    assert got == expected
    assert {b.person_id for b in got} == {p.id for p in sdr}
    assert any(b.streak_days > 0 for b in got) or day == THANKSGIVING or day.weekday() >= 5
    by_id = {b.person_id: b for b in expected}
    for person in sdr:
        one = person_scoreboard(session, config=cfg, person_id=person.id, day=day, as_of=as_of)
        assert one == by_id[person.id]
    for name in ("ola", "mo"):  # inactive rep, manager: a board without a rank
        person = people[name]
        one = person_scoreboard(session, config=cfg, person_id=person.id, day=day, as_of=as_of)
        assert one == _reference(session, cfg, person, day, as_of)
        assert one.team_rank is None


def test_fixture_covers_the_edges(session: Session, cfg: MetricsConfig) -> None:
    """The cases above are only as good as the org: check it has what they claim."""
    people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}
    day, as_of = CASES[0]
    boards = {
        b.name: b
        for b in team_scoreboards(session, config=cfg, team_key="sdr", day=day, as_of=as_of)
    }
    assert [m.metric for m in boards["Dana"].metrics] == ["calls", "emails", "avg_call_minutes"]
    assert boards["Dana"].metrics[1].target == 5  # personal override
    assert boards["Kai"].metrics[1].target == 4  # role
    assert boards["Sam"].metrics[0].target == 8  # moved: the new team's target
    sam_emails = boards["Sam"].metrics[1]  # a personal daily target of 0: no target
    assert (sam_emails.target, sam_emails.status) == (None, "none") and sam_emails.value > 0
    assert {b.timezone for b in boards.values()} >= {
        "America/Chicago",
        "Europe/Berlin",
        "Asia/Tokyo",
    }
    assert not people["ola"].active
    old = metric_value(
        session,
        config=cfg,
        metric="calls",
        scope=Scope.team("ae"),
        start=FIRST,
        end=MOVED - dt.timedelta(days=1),
    )
    assert old.value  # sam's earlier rows stay with the old team...
    history = boards["Sam"].metrics[0].history
    assert len(history) == HISTORY_DAYS  # ...and the board reads them by person
    streaks = sorted(b.streak_days for b in boards.values())
    assert streaks[-1] >= 2 and streaks[0] < streaks[-1], streaks
    assert list(itertools.chain.from_iterable(b.notes for b in boards.values())) == []


@pytest.mark.parametrize(("day", "as_of"), [CASES[0], CASES[3]], ids=["11-30", "11-02"])
def test_streaks_past_the_recent_rows_read_the_rest(
    session: Session,
    cfg: MetricsConfig,
    day: dt.date,
    as_of: dt.datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows are read for the recent days first, older ones only for long streaks."""
    monkeypatch.setattr("metrics.scoreboards.RECENT_DAYS", 1)  # the 7 days of history only
    people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}
    sdr = [people[n] for n in ("dana", "kai", "lee", "sam")]
    expected = _ranked([_reference(session, cfg, p, day, as_of) for p in sdr])
    assert max(b.streak_days for b in expected) > 10  # kai's: back to the first rollup day
    got = team_scoreboards(session, config=cfg, team_key="sdr", day=day, as_of=as_of)
    assert got == expected
