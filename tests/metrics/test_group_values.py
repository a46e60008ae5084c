"""`metrics.group_values` gives the numbers of the per-person paths it replaces in alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics import group_values
from metrics.batch import daily_series_by_person, values_by_person
from metrics.calendar import WorkCalendar
from metrics.config import MetricConfig, MetricsConfig, PersonConfig, TargetSet
from metrics.directory import apply_directory
from metrics.group_values import PersonSums, daily_totals, pipeline_coverage
from metrics.lookup import Scope, catalog_for, metric_value
from metrics.models import MetricDaily, Person
from metrics.targets import group_target, group_target_memo, person_target, target_for_range
from tests.metrics.builders import Org, config

DAY = dt.date(2026, 11, 23)  # a Monday; Thanksgiving (26th) is a company holiday


def _cfg() -> MetricsConfig:
    base = config()
    people = (
        *base.people,
        PersonConfig(email="kim@acme.test", name="Kim", role="rep", team="ae"),
        PersonConfig(
            email="ola@acme.test",
            name="Ola",
            role="rep",
            team="ae",
            targets={"bookings": TargetSet(monthly=2500), "calls": TargetSet(weekly=30)},
        ),
        PersonConfig(email="max@acme.test", name="Max", role="manager", team="sdr"),
    )
    metrics = (
        *base.metrics,
        MetricConfig(
            name="bookings", targets={"ae": TargetSet(monthly=10000), "rep": TargetSet(weekly=900)}
        ),
    )
    return base.model_copy(update={"people": people, "metrics": metrics})


def _rows(session: Session, org: Org) -> None:
    values = {"calls": (3.0, 0.25, 7.5), "connected_calls": (1.0, 0.0, 2.0)}
    for n, (_name, pid) in enumerate(sorted(org.person.items())):
        for back in range(12):
            day = DAY - dt.timedelta(days=back)
            for metric, options in values.items():
                if (n + back) % 5 == 4:
                    continue  # some days without a row
                value = options[(n + back) % 3] * (n + 1)
                team = ("sdr", "ae", None)[(n + back // 4) % 3]  # movers, and no team
                session.add(
                    MetricDaily(person_id=pid, metric=metric, day=day, value=value, team_key=team)
                )
    session.flush()


def test_daily_totals_are_the_sum_of_the_per_person_series(session: Session) -> None:
    cfg = _cfg()
    org = Org(session, cfg, DAY)
    _rows(session, org)
    calls = catalog_for(cfg).get("calls")
    start, end = DAY - dt.timedelta(days=13), DAY - dt.timedelta(days=1)
    ids = sorted(org.person.values())
    for group in (ids, ids[:2], ids[-1:]):
        series = daily_series_by_person(session, defn=calls, person_ids=group, start=start, end=end)
        slow = [sum(day) for day in zip(*series.values(), strict=True)]
        fast = daily_totals(session, defn=calls, person_ids=group, start=start, end=end)
        assert fast == pytest.approx(slow, rel=1e-12, abs=1e-12)
        assert len(fast) == 13 and any(fast)
    assert daily_totals(session, defn=calls, person_ids=[], start=start, end=end) == [0.0] * 13


@pytest.mark.parametrize("everyone_from", [1000, 1])
def test_person_sums_read_once_and_match_values_by_person(
    session: Session, monkeypatch: pytest.MonkeyPatch, everyone_from: int
) -> None:
    """Per person (few people) or everyone's rows by team (many: here forced from 1)."""
    monkeypatch.setattr(group_values, "EVERYONE_FROM", everyone_from)
    cfg = _cfg()
    org = Org(session, cfg, DAY)
    _rows(session, org)
    ids = sorted(org.person.values())
    sums = PersonSums()
    for metric in ("calls", "connect_rate", "calls", "win_rate"):
        defn = catalog_for(cfg).get(metric)
        for group in (ids[:3], list(reversed(ids)), [*ids[1:2], 999_999]):
            for start in (DAY, DAY - dt.timedelta(days=6)):
                slow = values_by_person(session, defn=defn, person_ids=group, start=start, end=DAY)
                assert sums.values(session, defn=defn, person_ids=group, start=start, end=DAY) == (
                    slow
                )
    assert values_by_person(
        session, defn=catalog_for(cfg).get("calls"), person_ids=[999_999], start=DAY, end=DAY
    ) == {999_999: 0.0}

    reads: list[int] = []
    read = group_values._person_sums

    def counted(*args: Any) -> Any:
        reads.append(len(args[2]))
        return read(*args)

    monkeypatch.setattr(group_values, "_person_sums", counted)
    fresh, calls = PersonSums(), catalog_for(cfg).get("calls")
    fresh.values(session, defn=calls, person_ids=ids[:2], start=DAY, end=DAY)
    fresh.values(session, defn=calls, person_ids=ids[:2], start=DAY, end=DAY)
    fresh.values(session, defn=calls, person_ids=ids, start=DAY, end=DAY)  # the rest only
    assert reads == [2, len(ids) - 2]


def test_targets_shared_per_team_and_role_equal_the_per_person_targets(session: Session) -> None:
    cfg = _cfg()
    Org(session, cfg, DAY)
    people = list(session.scalars(select(Person).order_by(Person.id)))
    work = WorkCalendar(cfg.calendar)
    memo: dict[tuple[object, ...], float | None] = {}
    ranges = [
        (DAY, DAY),
        (DAY + dt.timedelta(days=3), DAY + dt.timedelta(days=3)),  # the company holiday
        (DAY, DAY + dt.timedelta(days=6)),  # the ISO week
        (dt.date(2026, 11, 1), dt.date(2026, 11, 30)),  # the month
        (dt.date(2026, 11, 20), dt.date(2026, 12, 4)),  # across months
    ]
    for metric in ("calls", "emails", "bookings", "connect_rate", "win_rate"):
        defn = catalog_for(cfg).get(metric)
        for start, end in ranges:
            for p in people:
                slow = target_for_range(
                    cfg, work, defn, start, end, email=p.email, role=p.role, team=p.team_key
                )
                assert person_target(cfg, work, defn, p, start, end, memo) == slow
            for group in (people, people[:2], people[2:], people[-1:]):
                fast = group_target_memo(cfg, work, defn, group, start, end, memo)
                assert fast == group_target(cfg, work, defn, group, start, end)
    assert any(key[0] == "group" for key in memo) and any(key[0] == "person" for key in memo)


@pytest.mark.parametrize("scope_of", ["team_ae", "team_sdr", "org", "person"])
def test_pipeline_coverage_equals_metric_value(session: Session, scope_of: str) -> None:
    cfg = _cfg()
    org = Org(session, cfg, DAY)
    created = dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC)
    org.deal("sam", created, amount=4000, closed=created + dt.timedelta(days=3), won=True)
    org.deal("sam", created, amount=9000)
    org.deal("kim", created, amount=2500.5, currency="EUR")
    org.deal("ola", created, amount=100, currency="JPY")  # no rate: excluded
    org.deal("dana", created, amount=1200)
    session.add(MetricDaily(person_id=org.person["sam"], metric="bookings", day=DAY, value=700.0))
    session.flush()
    scope = {
        "team_ae": Scope.team("ae"),
        "team_sdr": Scope.team("sdr"),
        "org": Scope.org(),
        "person": Scope.person(org.person["ola"]),
    }[scope_of]
    for start, end in ((DAY, DAY), (dt.date(2026, 11, 1), dt.date(2026, 11, 30))):
        slow = metric_value(
            session, config=cfg, metric="pipeline_coverage", scope=scope, start=start, end=end
        )
        fast = pipeline_coverage(session, config=cfg, scope=scope, start=start, end=end)
        assert fast == slow
        assert fast.numerator > 0 or scope_of == "person"


def test_coverage_counts_a_rep_who_moved_for_their_days_on_the_team(session: Session) -> None:
    """Lee moves from SDR to AE on Mon Oct 19: AE's October bookings target has his 10
    working days there (not his whole month), in the lookup and here alike."""
    cfg = _cfg()
    Org(session, cfg, dt.date(2026, 1, 1))
    moved = cfg.model_copy(
        update={
            "people": tuple(
                p.model_copy(update={"team": "ae"}) if p.email.startswith("lee@") else p
                for p in cfg.people
            )
        }
    )
    apply_directory(session, moved, today=dt.date(2026, 10, 19))
    session.add(
        MetricDaily(
            person_id=session.scalars(
                select(Person.id).where(Person.email == "sam@acme.test")
            ).one(),
            metric="bookings",
            day=dt.date(2026, 10, 5),
            value=3000.0,
            team_key="ae",
        )
    )
    session.flush()
    # Sam and Kim AE's 10,000 a month, Ola her own 2,500; Lee 10 days at 180 (part of a
    # month is shared out by the weekly target first: the reps' 900 ÷ 5); Sam booked 3,000
    remaining = 10000 + 10000 + 2500 + 180 * 10 - 3000
    october = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    slow = metric_value(
        session,
        config=moved,
        metric="pipeline_coverage",
        scope=Scope.team("ae"),
        start=october[0],
        end=october[1],
    )
    fast = pipeline_coverage(
        session, config=moved, scope=Scope.team("ae"), start=october[0], end=october[1]
    )
    assert slow.denominator == pytest.approx(remaining)
    assert fast == slow
