"""The one-statement numbers of a `/metric` answer (rhythms.metric_numbers) against the
per-figure lookups they replace (metrics.lookup.metric_value for each period; for the
sparkline metrics.batch.daily_series_by_person, metrics.group_values.team_daily_totals and
org_daily_totals: the same rows as the value), on the same rows: every period
word, persons/teams/the org, additive, ratio and special metrics, a person who moved teams,
an inactive person, overlapping comparison periods and instants around DST changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from metrics.batch import daily_series_by_person
from metrics.directory import apply_directory
from metrics.group_values import org_daily_totals, team_daily_totals
from metrics.lookup import catalog_for, metric_value, resolve_period
from metrics.models import MetricDaily, Person, SyncRun
from rhythms import metric_numbers
from rhythms.config import load_org_config
from rhythms.metric_answer import Subject, answer, previous_range, resolve_subject
from rhythms.metric_query import MetricQuery, Target
from rhythms.permissions import viewer_for
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
NY = ZoneInfo("America/New_York")
NOWS = [
    dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC),  # a Wednesday afternoon
    dt.datetime(2026, 3, 31, 23, 30, tzinfo=NY),  # "this month" overlaps its comparison
    dt.datetime(2026, 3, 8, 3, 30, tzinfo=NY),  # just after the spring-forward gap
    dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC),  # 01:30 EDT, the repeated hour
    dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC),  # 01:30 EST, same local day
    dt.datetime(2026, 1, 1, 5, 30, tzinfo=dt.UTC),  # new year: New York still Dec 31
]
PERIODS = [
    "today",
    "yesterday",
    "this week",
    "last week",
    "this month",
    "last month",
    "this quarter",
    "last 30d",
    "last 2 weeks",
    "2026-02-20..2026-03-10",
    "2026-12-20..2026-12-24",  # in the future: no series days
    "2025-06-01..2026-11-30",  # longer than MAX_SPAN_DAYS: summed by the database
]
METRICS = ["calls", "bookings", "win_rate", "avg_deal_size"]
BASES = ["calls", "bookings", "bookings.excluded", "bookings.n", "deals_won", "deals_lost"]


def _seed(session: Session) -> dict[str, Person]:
    apply_directory(session, CFG, today=dt.date(2026, 1, 1))
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    people["george"].active = False  # left: his rows still count for the team and the org
    rows = []
    first = dt.date(2025, 5, 20)
    for n in range((dt.date(2027, 1, 5) - first).days):
        day = first + dt.timedelta(days=n)
        for who in ("dana", "leo", "chloe", "george"):
            pid = people[who].id
            if (pid + n) % 5 == 0:
                continue  # days without activity
            team = {"dana": "ae" if day < dt.date(2026, 6, 1) else "sdr", "leo": "sdr"}.get(
                who, "ae" if who == "chloe" else "cs"
            )
            if who == "george" and day < dt.date(2026, 1, 1):
                team = None  # rows without a team count for the org only
            for i, base in enumerate(BASES):
                value = float((pid * 31 + n * 17 + i * 7) % 13)
                if base == "bookings":
                    value *= 1234.57
                if value:
                    rows.append(
                        {"person_id": pid, "metric": base, "day": day, "value": value}
                        | {"team_key": team}
                    )
    session.execute(insert(MetricDaily), rows)
    session.commit()
    return people


def _slow(
    session: Session, metric: str, subject: Subject, period_text: str, now: dt.datetime
) -> tuple[float | None, int, float | None, tuple[float, ...]]:
    """What `answer` computed before the one-statement path: one lookup per figure."""
    defn = catalog_for(CFG).get(metric)
    period = resolve_period(period_text, now=now, timezone=subject.timezone)
    today = now.astimezone(ZoneInfo(subject.timezone)).date()
    scope = subject.scope
    value = metric_value(
        session, config=CFG, metric=metric, scope=scope, start=period.start, end=period.end
    )
    p_start, p_end = previous_range(period.label, period.start, period.end)
    previous = metric_value(
        session, config=CFG, metric=metric, scope=scope, start=p_start, end=p_end
    )
    daily: tuple[float, ...] = ()
    if defn.additive and subject.members and (period.end - period.start).days < 62:
        start, end = period.start, min(period.end, today)
        if scope.kind == "person":  # the scope's rows, as its value sums them
            pid = int(str(scope.key))
            series = daily_series_by_person(
                session, defn=defn, person_ids=[pid], start=start, end=end
            )
            daily = tuple(series[pid])
        elif scope.kind == "team":  # everyone on the team each day, managers included
            key = str(scope.key)
            daily = tuple(team_daily_totals(session, defn=defn, team_key=key, start=start, end=end))
        else:  # every row
            daily = tuple(org_daily_totals(session, defn=defn, start=start, end=end))
    return value.value, value.excluded, previous.value, daily


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and a == pytest.approx(b, rel=1e-9, abs=1e-9)
    )


def test_answer_numbers_match_the_per_figure_lookups(session: Session) -> None:
    _seed(session)
    targets = [Target("name", "dana"), Target("team", "sdr"), Target("team", "cs"), Target("org")]
    subjects = [
        resolve_subject(session, config=CFG, viewer=None, target=t, trusted=True) for t in targets
    ]
    checked = mismatched = 0
    for now in NOWS:
        for period in PERIODS:
            for subject in subjects:
                for metric in METRICS:
                    query = MetricQuery(metric, Target("self"), period, True, False, False)
                    got = answer(session, config=CFG, query=query, subject=subject, now=now)
                    value, excluded, previous, daily = _slow(session, metric, subject, period, now)
                    same = (
                        _same(got.value, value)
                        and got.excluded == excluded
                        and _same(got.previous, previous)
                        and len(got.daily) == len(daily)
                        and all(_same(x, y) for x, y in zip(got.daily, daily, strict=True))
                    )
                    checked += 1
                    mismatched += not same
                    assert same, (now, period, subject.name, metric, got, value, previous, daily)
    assert checked == len(NOWS) * len(PERIODS) * len(subjects) * len(METRICS)
    assert mismatched == 0
    # pipeline coverage is read from deals, not rollups: the lookup, over the whole month (a
    # snapshot of now: no comparison, no series)
    query = MetricQuery("pipeline_coverage", Target("self"), "this month", True, False, False)
    for subject in subjects:
        got = answer(session, config=CFG, query=query, subject=subject, now=NOWS[0])
        whole = metric_value(
            session,
            config=CFG,
            metric="pipeline_coverage",
            scope=subject.scope,
            start=dt.date(2026, 11, 1),
            end=dt.date(2026, 11, 30),
        )
        assert (got.value, got.excluded, got.previous, got.daily) == (
            whole.value,
            whole.excluded,
            None,
            (),
        )


def test_rows_for_both_periods_are_read_once_and_overlaps_count_in_each(session: Session) -> None:
    people = _seed(session)
    defn = catalog_for(CFG).get("calls")
    scope = resolve_subject(
        session, config=CFG, viewer=None, target=Target("name", "dana"), trusted=True
    ).scope
    # "this month" on March 31 compares with Feb 1..Mar 3: March 1-3 count in both
    start, end = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
    before = previous_range("this month", start, end)
    assert before == (dt.date(2026, 2, 1), dt.date(2026, 3, 3))
    numbers = metric_numbers.period_numbers(
        session, defn=defn, scope=scope, start=start, end=end, previous=before, series_end=end
    )
    for (lo, hi), sums in ((before, numbers.previous), ((start, end), numbers.current)):
        expected = session.scalar(
            select(func.sum(MetricDaily.value)).where(
                MetricDaily.person_id == people["dana"].id,
                MetricDaily.metric == "calls",
                MetricDaily.day.between(lo, hi),
            )
        )
        assert sums["calls"] == pytest.approx(expected)
    assert numbers.daily is not None and len(numbers.daily) == 31
    assert sum(numbers.daily) == pytest.approx(numbers.current["calls"])
    with pytest.raises(ValueError, match="ends before"):
        metric_numbers.period_numbers(
            session, defn=defn, scope=scope, start=end, end=start, previous=before
        )


def test_freshness_in_one_statement(session: Session) -> None:
    assert metric_numbers.freshness(session) == (None, False)
    at = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
    session.add_all(
        [
            SyncRun(source="hubspot", started_at=at, finished_at=at, status="ok"),
            SyncRun(
                source="hubspot",
                started_at=at + dt.timedelta(hours=1),
                finished_at=at + dt.timedelta(hours=2),
                status="failed",
            ),
        ]
    )
    session.flush()
    last, has_data = metric_numbers.freshness(session)
    assert (last, has_data) == (at, False) and last is not None and last.tzinfo is not None
    _seed(session)
    assert metric_numbers.freshness(session) == (at, True)


def test_viewer_lookup_matches_viewer_for(session: Session) -> None:
    people = _seed(session)
    people["dana"].slack_user_id = "UDANA"
    people["george"].slack_user_id = "UGEORGE"  # inactive
    session.commit()
    for user in ("UDANA", "UGEORGE", "UNOBODY"):
        assert metric_numbers.viewer(session, user) is viewer_for(session, user)
    assert metric_numbers.viewer(session, "UDANA") is people["dana"]
