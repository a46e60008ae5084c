"""Targets that follow the team a person was on each day (`metrics.memberships`)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig, PersonConfig
from metrics.directory import apply_directory
from metrics.lookup import catalog_for
from metrics.memberships import members_target, team_runs
from metrics.models import Person
from metrics.scoreboards import work_calendar
from metrics.targets import group_target
from tests.metrics.builders import config

MOVED = dt.date(2026, 11, 11)  # a Wednesday: Dana sdr -> ae, Lee sdr -> no team


def _moved(cfg: MetricsConfig) -> MetricsConfig:
    changes = {"dana@acme.test": {"team": "ae"}, "lee@acme.test": {"team": None}}
    people = tuple(p.model_copy(update=changes.get(p.email, {})) for p in cfg.people)
    return cfg.model_copy(update={"people": people})


@pytest.fixture
def people(session: Session) -> dict[str, Person]:
    """Dana (personal emails target 5) moves from sdr (calls 8) to ae (calls: the role's 10)
    on Nov 11; Lee leaves sdr for no team; Sam stays on ae; Kai is added on Nov 11 with no
    team history before (added people are on their team since always)."""
    apply_directory(session, config(), today=dt.date(2026, 10, 1))
    kai = PersonConfig(email="kai@acme.test", name="Kai", role="rep", team="sdr")
    after = _moved(config())
    apply_directory(session, after.model_copy(update={"people": (*after.people, kai)}), today=MOVED)
    session.flush()
    return {p.email.split("@")[0]: p for p in session.scalars(select(Person))}


def test_team_runs_cover_the_range_with_each_days_team(
    session: Session, people: dict[str, Person]
) -> None:
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    ids = [p.id for p in people.values()]
    runs = team_runs(session, ids, start, end)
    before, since = MOVED - dt.timedelta(days=1), MOVED
    assert runs[people["dana"].id] == [("sdr", start, before), ("ae", since, end)]
    assert runs[people["lee"].id] == [("sdr", start, before), (None, since, end)]
    # on their current team throughout: left out (Kai's membership is since always)
    assert people["sam"].id not in runs and people["kai"].id not in runs
    assert set(runs) == {people["dana"].id, people["lee"].id}
    # on another team than today's all through October: one run of it
    october = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    assert team_runs(session, ids, *october) == {
        people["dana"].id: [("sdr", *october)],
        people["lee"].id: [("sdr", *october)],
    }
    # a range before anyone's membership began: on no team
    old = dt.date(1969, 12, 1), dt.date(1969, 12, 2)
    assert team_runs(session, [people["sam"].id], *old) == {people["sam"].id: [(None, *old)]}
    assert team_runs(session, ids, since, end) == {}  # since the moves: today's teams


def test_many_people_read_the_changes_of_everyone(
    session: Session, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    few = team_runs(session, [p.id for p in people.values()], start, end)
    monkeypatch.setattr("metrics.memberships.MANY", 1)
    assert team_runs(session, [p.id for p in people.values()], start, end) == few
    assert team_runs(session, [people["dana"].id, people["sam"].id], start, end) == {
        people["dana"].id: few[people["dana"].id]
    }


def test_a_persons_target_follows_their_team_each_day(
    session: Session, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls: sdr 8 a day, a rep 10 (ae has no team target); emails: a rep 4, Dana's own 5
    whatever her team. Nov 9-13 (no holiday): Mon, Tue on sdr, Wed-Fri on ae."""
    cfg = _moved(config())
    work = work_calendar(cfg)
    catalog = catalog_for(cfg)
    calls, emails = catalog.get("calls"), catalog.get("emails")
    start, end = dt.date(2026, 11, 9), dt.date(2026, 11, 13)
    dana, lee, sam = people["dana"], people["lee"], people["sam"]

    def target(defn: object, who: list[Person], first: dt.date, last: dt.date) -> float | None:
        return members_target(
            session,
            config=cfg,
            work=work,
            defn=defn,  # type: ignore[arg-type]
            people=who,
            start=first,
            end=last,
        )

    assert target(calls, [dana], start, end) == 2 * 8 + 3 * 10  # not 5 x 10 (ae's only)
    assert target(calls, [dana], start, start) == 8  # a day on sdr
    assert target(emails, [dana], start, end) == 5 * 5  # her own target on both teams
    assert target(calls, [lee], start, end) == 2 * 8 + 3 * 10  # then the role's, no team
    # October: the whole month on sdr, held to sdr's 8 a day (the weekly 40 is the role's,
    # and sdr's daily beats it for a part of a month): 22 working days
    october = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    assert target(calls, [dana], *october) == 22 * 8
    # a group adds each member's own days; who never moved is as `group_target` has them
    everyone = [dana, lee, sam]
    assert target(calls, everyone, start, end) == 46 + 46 + 5 * 10
    assert target(calls, [sam], start, end) == group_target(cfg, work, calls, [sam], start, end)
    monkeypatch.setattr("metrics.memberships.MANY", 1)  # every membership read, theirs kept
    assert target(calls, everyone, start, end) == 46 + 46 + 5 * 10
