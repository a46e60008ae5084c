from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from metrics.config import MetricConfig, TargetSet
from metrics.directory import apply_directory
from metrics.lookup import Scope, base_sums, metric_value, resolve_period
from metrics.models import MetricDaily, Person
from metrics.rollups import refresh_rollups
from tests.metrics.builders import BERLIN, CHICAGO, Org, config, local

DAY = dt.date(2026, 11, 17)


def _close(org: Org, owner: str, won: bool, amount: float = 1000) -> None:
    at = dt.datetime(2026, 11, 17, 16, tzinfo=dt.UTC)
    org.deal(owner, at - dt.timedelta(days=10), amount=amount, closed=at, won=won)


def test_ratios_aggregate_as_ratio_of_sums(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, DAY)
    _close(org, "dana", won=True)  # dana 1/1 = 100%
    _close(org, "lee", won=True)  # lee 1/3 = 33%
    _close(org, "lee", won=False)
    _close(org, "lee", won=False)
    at = dt.datetime(2026, 11, 17, 15, tzinfo=dt.UTC)
    org.activity("dana", "call", at, outcome="connected", duration_seconds=60)
    org.activity("dana", "call", at, duration_seconds=240)
    for outcome in ("connected", "connected", "connected", "busy"):
        org.activity("lee", "call", at, outcome=outcome, duration_seconds=30)
    refresh_rollups(session, config=cfg)
    team = metric_value(
        session, config=cfg, metric="win_rate", scope=Scope.team("sdr"), start=DAY, end=DAY
    )
    assert (team.numerator, team.denominator) == (2, 4)
    assert team.value == pytest.approx(0.5)  # not (1 + 1/3) / 2
    person = metric_value(
        session,
        config=cfg,
        metric="win_rate",
        scope=Scope.person(org.person["lee"]),
        start=DAY,
        end=DAY,
    )
    assert person.value == pytest.approx(1 / 3)
    rate = metric_value(
        session, config=cfg, metric="connect_rate", scope=Scope.org(), start=DAY, end=DAY
    )
    assert rate.value == pytest.approx(4 / 6)
    minutes = metric_value(
        session, config=cfg, metric="avg_call_minutes", scope=Scope.org(), start=DAY, end=DAY
    )
    assert minutes.value == pytest.approx((60 + 240 + 4 * 30) / 6)
    size = metric_value(
        session, config=cfg, metric="avg_deal_size", scope=Scope.org(), start=DAY, end=DAY
    )
    assert size.value == pytest.approx(1000)
    empty = metric_value(
        session, config=cfg, metric="win_rate", scope=Scope.team("ae"), start=DAY, end=DAY
    )
    assert empty.value is None and empty.denominator == 0


def test_team_history_stays_with_the_old_team(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, dt.date(2026, 11, 1))
    moved = config(
        people=tuple(
            p.model_copy(update={"team": "ae"}) if p.email == "dana@acme.test" else p
            for p in cfg.people
        )
    )
    apply_directory(session, moved, today=dt.date(2026, 11, 10))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 9, 17, 0))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 10, 9, 0))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 11, 9, 0))
    org.activity("lee", "call", local(BERLIN, 2026, 11, 10, 9, 0))
    refresh_rollups(session, config=moved)
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 30)

    def calls(scope: Scope) -> float | None:
        return metric_value(
            session, config=moved, metric="calls", scope=scope, start=start, end=end
        ).value

    assert calls(Scope.team("sdr")) == 2  # dana's Nov 9 + lee's
    assert calls(Scope.team("ae")) == 2
    assert calls(Scope.person(org.person["dana"])) == 3
    assert calls(Scope.org()) == 4


def test_pipeline_coverage_is_open_pipeline_over_remaining_target(session: Session) -> None:
    cfg = config(metrics=(MetricConfig(name="bookings", targets={"ae": TargetSet(monthly=10000)}),))
    org = Org(session, cfg, DAY)
    created = dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC)
    org.deal("sam", created, amount=4000, closed=created + dt.timedelta(days=3), won=True)
    org.deal("sam", created, amount=9000)
    org.deal("sam", created, amount=6000)
    org.deal("sam", created, amount=100, currency="JPY")  # no rate
    refresh_rollups(session, config=cfg)
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    cov = metric_value(
        session,
        config=cfg,
        metric="pipeline_coverage",
        scope=Scope.team("ae"),
        start=start,
        end=end,
    )
    # November's target: 10000 × 20/21 (Thanksgiving off) = 9523.809523810, less 4000 won
    assert (cov.numerator, cov.excluded) == (15000, 1)
    assert cov.denominator == pytest.approx(5523.80952381)
    assert cov.value == pytest.approx(15000 / 5523.80952381)


def test_resolve_period_in_the_callers_zone() -> None:
    # 03:00Z on Monday Nov 23 is still Sunday Nov 22 in Chicago.
    now = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    chicago = "America/Chicago"
    assert resolve_period("today", now=now, timezone=chicago).start == dt.date(2026, 11, 22)
    assert resolve_period("today", now=now, timezone="UTC").start == dt.date(2026, 11, 23)
    week = resolve_period("last week", now=now, timezone=chicago)
    assert (week.start, week.end) == (dt.date(2026, 11, 9), dt.date(2026, 11, 15))
    month = resolve_period("last month", now=now, timezone=chicago)
    assert (month.start, month.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    last30 = resolve_period("Last 30d", now=now, timezone=chicago)
    assert (last30.start, last30.end) == (dt.date(2026, 10, 24), dt.date(2026, 11, 22))
    span = resolve_period("2026-11-01..2026-11-05", now=now, timezone=chicago)
    assert (span.start, span.end) == (dt.date(2026, 11, 1), dt.date(2026, 11, 5))
    with pytest.raises(ValueError, match="unknown period"):
        resolve_period("next fortnight", now=now, timezone=chicago)
    with pytest.raises(ValueError, match="before it starts"):
        resolve_period("2026-11-05..2026-11-01", now=now, timezone=chicago)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0001-01-01", "0001-01-01 is too early: a 1-day period must start on 0001-01-02"),
        ("0001-01-01..0001-12-31", "must start on 0002-01-01 or later"),
        ("0001-01-01..9999-12-31", "a period must be 1 to 3660 days"),
        ("1000-01-01..2026-11-25", "a period must be 1 to 3660 days"),
        ("2026-01-01..2999-12-31", "a period must be 1 to 3660 days"),
        ("9999-12-31", "9999-12-31 is too late: a period must end by 9998-12-31"),
    ],
)
def test_resolve_period_refuses_dates_off_the_calendar_and_long_ranges(
    text: str, message: str
) -> None:
    """Like "last N days", a range is at most 3660 days; and the period before it (what an
    answer compares with) must be a date: both say so instead of overflowing later."""
    now = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match=message):
        resolve_period(text, now=now, timezone="UTC")


def test_resolve_period_takes_the_longest_range_and_the_earliest_day() -> None:
    now = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
    end = dt.date(2026, 11, 25)
    start = end - dt.timedelta(days=3659)
    longest = resolve_period(f"{start}..{end}", now=now, timezone="UTC")
    assert (longest.end - longest.start).days + 1 == 3660
    first = resolve_period("0001-01-02", now=now, timezone="UTC")
    assert first.start == first.end == dt.date(1, 1, 2)


def test_org_sums_read_team_by_team_equal_a_sum_of_every_row(session: Session) -> None:
    """The org's sums are read per team from the team index plus the rows without a team
    (`team_by_team`): they must equal a plain sum over every row, whatever the teams."""
    people = [Person(email=f"p{i}@x.io", name=f"P{i}", role="rep", active=i != 3) for i in range(6)]
    session.add_all(people)
    session.flush()
    rows = []
    for i, person in enumerate(people):
        for d in range(10):
            team = None if (i + d) % 4 == 0 else f"team{(i + d) % 3}"  # movers, no team
            rows.append(
                MetricDaily(
                    person_id=person.id,
                    metric="calls" if d % 3 else "emails",
                    day=DAY - dt.timedelta(days=d),
                    value=float(i * 10 + d) + 0.25,
                    team_key=team,
                )
            )
    session.add_all(rows)
    session.flush()
    start, end = DAY - dt.timedelta(days=6), DAY - dt.timedelta(days=1)
    expected = {"calls": 0.0, "emails": 0.0, "meetings_booked": 0.0}
    for r in rows:
        if start <= r.day <= end:
            expected[r.metric] += r.value
    got = base_sums(
        session,
        scope=Scope.org(),
        bases=("calls", "emails", "meetings_booked"),
        start=start,
        end=end,
    )
    assert got == pytest.approx(expected)
    assert got["calls"] > 0 and got["emails"] > 0 and got["meetings_booked"] == 0
