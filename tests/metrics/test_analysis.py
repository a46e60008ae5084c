"""Velocity, funnel, growth model and driver analysis on tiny hand-computed fixtures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import MetricConfig, MetricsConfig, PersonConfig, TargetSet
from metrics.drivers import driver_analysis, fit_line, rank_drivers
from metrics.funnel import activity_funnel, stage_funnel
from metrics.group_values import pipeline_coverage
from metrics.growth import growth_model, project
from metrics.lookup import Scope, metric_value, target_people
from metrics.models import Deal, DealStageChange
from metrics.rollups import refresh_rollups
from metrics.velocity import revenue_velocity, velocity_formula, velocity_trend
from tests.metrics.builders import CHICAGO, Org, config, local

NOV = dt.date(2026, 11, 1)
END = dt.date(2026, 11, 30)


def utc(day: int, hour: int = 15, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def test_fit_line_by_hand() -> None:
    slope, intercept, r2 = fit_line(np.array([0.0, 1, 2]), np.array([1.0, 2, 4]))
    assert slope == pytest.approx(1.5)
    assert intercept == pytest.approx(7 / 3 - 1.5)
    assert r2 == pytest.approx(1 - (1 / 6) / (42 / 9))


def test_rank_drivers_orders_by_fit_and_warns_on_small_samples() -> None:
    y = np.array([3.0, 5, 7, 9, 11])
    analysis = rank_drivers(
        "deals_won",
        y,
        {"noise": np.array([5.0, 1, 4, 1, 5]), "calls": np.array([1.0, 2, 3, 4, 5])},
    )
    assert [d.metric for d in analysis.drivers] == ["calls", "noise"]
    best = analysis.drivers[0]
    assert (best.slope, best.intercept, best.r2) == pytest.approx((2.0, 1.0, 1.0))
    assert analysis.samples == 5
    assert any("only 5 rep-weeks" in w for w in analysis.warnings)


def test_velocity_formula_and_projection_by_hand() -> None:
    assert velocity_formula(10, 0.25, 8000, 40) == pytest.approx(500)
    assert velocity_formula(10, None, 8000, 40) is None
    p = project(
        label="Dec",
        start=dt.date(2026, 12, 1),
        end=dt.date(2026, 12, 31),
        working_days=20,
        meetings_per_day=2,
        m2o=0.5,
        win=0.25,
        size=10000,
        target=100000,
    )
    assert p.projected_bookings == pytest.approx(50000)  # 2 × 20 × (0.5 × 0.25 × 10000)
    assert (p.meetings_needed, p.opportunities_needed, p.deals_needed) == (80, 40, 10)
    assert p.gap == pytest.approx(50000)


@pytest.fixture
def sales(session: Session) -> Org:
    cfg = config(metrics=(MetricConfig(name="bookings", targets={"ae": TargetSet(monthly=20000)}),))
    org = Org(session, cfg, NOV)
    for day, amount, won in ((5, 1000, True), (6, 3000, True), (7, 500, False), (8, 9, False)):
        org.deal("sam", utc(day), amount=amount, closed=utc(day + 10), won=won)
    for day in (20, 21, 22):
        org.deal("sam", utc(day), amount=2000)  # still open
    for day in (3, 4, 5, 6):
        org.activity("sam", "call", utc(day))
        org.activity("sam", "meeting", utc(day + 1), booked_at=utc(day), outcome="completed")
    refresh_rollups(session, config=cfg)
    return org


def test_revenue_velocity_and_trend(session: Session, sales: Org) -> None:
    v = revenue_velocity(session, config=sales.cfg, scope=Scope.team("ae"), start=NOV, end=END)
    # open at Nov 30: the 3 open deals; win rate 2/4; deal size 4000/2; cycle 10 days
    assert (v.open_opportunities, v.win_rate, v.avg_deal_size) == (3, 0.5, 2000)
    assert v.cycle_days == pytest.approx(10)
    assert v.value == pytest.approx(3 * 0.5 * 2000 / 10)
    trend = velocity_trend(
        session, config=sales.cfg, scope=Scope.org(), end=END, periods=2, period_days=30
    )
    assert trend[0].value is None and trend[-1].value == pytest.approx(300)
    assert trend[-1].acceleration is None  # no earlier value to compare with


def test_activity_and_stage_funnels(session: Session, sales: Org) -> None:
    steps = activity_funnel(session, scope=Scope.person(sales.person["sam"]), start=NOV, end=END)
    assert [s.count for s in steps] == [4, 4, 4, 7, 2]
    assert steps[1].conversion == pytest.approx(1.0)
    assert steps[3].conversion == pytest.approx(7 / 4)
    rows = session.scalars(select(Deal).order_by(Deal.created_at)).all()
    sales.session.add(DealStageChange(deal_id=rows[2].id, stage="qualified", entered_at=utc(8)))
    sales.session.add(DealStageChange(deal_id=rows[3].id, stage="proposal", entered_at=utc(9)))
    sales.session.flush()
    (cohort,) = stage_funnel(
        session, config=sales.cfg, stages=["qualified", "proposal"], start=NOV, end=END
    )
    assert cohort.month == NOV
    counts = [s.count for s in cohort.steps]
    # 7 created; won deals (2) reach every stage; deal 3 reached qualified, deal 4 proposal
    assert counts == [7, 4, 3]
    assert cohort.steps[2].conversion == pytest.approx(3 / 4)


def test_growth_model_projects_from_trailing_rates(session: Session, sales: Org) -> None:
    model = growth_model(session, config=sales.cfg, scope=Scope.team("ae"), as_of=END)
    assert model.meetings_held == 4
    assert model.meeting_to_opportunity == pytest.approx(7 / 4)
    assert model.bookings_per_meeting == pytest.approx(7 / 4 * 0.5 * 2000)
    month = model.month
    assert (month.start, month.end, month.target) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
        20000,
    )
    expected = model.meetings_per_working_day * month.working_days * 1750
    assert month.projected_bookings == pytest.approx(expected)
    assert month.meetings_needed == 12  # ceil(20000 / 1750)
    assert model.quarter.target == 60000
    planned = growth_model(
        session, config=sales.cfg, scope=Scope.team("ae"), as_of=END, month_target=35000
    )
    assert (planned.month.target, planned.month.naive) == (35000, 20000)
    assert planned.month.meetings_needed == 20  # 35000 / 1750
    assert any("noisy" in w for w in model.warnings)


def test_driver_analysis_from_rollups(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, NOV)
    # Three weeks, two reps: connected calls = calls / 2 exactly, emails unrelated.
    for week, (calls, emails) in enumerate(((4, 3), (6, 1), (10, 2))):
        monday = utc(2 + 7 * week, 14)
        for owner in ("sam", "dana"):
            for i in range(calls):
                outcome = "connected" if i % 2 == 0 else "busy"
                org.activity(owner, "call", monday + dt.timedelta(minutes=i), outcome=outcome)
            for i in range(emails):
                org.activity(owner, "email", monday + dt.timedelta(minutes=i))
    refresh_rollups(session, config=cfg)
    analysis = driver_analysis(
        session,
        config=cfg,
        output="connected_calls",
        inputs=["calls", "emails"],
        start=NOV,
        end=END,
    )
    assert analysis.samples == 6
    assert analysis.drivers[0].metric == "calls"
    assert analysis.drivers[0].slope == pytest.approx(0.5)
    assert analysis.drivers[0].r2 == pytest.approx(1.0)
    assert analysis.drivers[1].r2 < 0.5


def _with_manager(cfg: MetricsConfig) -> MetricsConfig:
    """`cfg` plus an AE manager with a quota of their own (a personal bookings target)."""
    boss = PersonConfig(
        email="max@acme.test",
        name="Max",
        role="manager",
        team="ae",
        targets={"bookings": TargetSet(monthly=50000)},
    )
    return cfg.model_copy(update={"people": (*cfg.people, boss)})


def test_plan_targets_count_reps_only(session: Session) -> None:
    """Growth target, reps × quota and coverage: the active reps' quotas, not the managers'."""
    cfg = _with_manager(
        config(metrics=(MetricConfig(name="bookings", targets={"ae": TargetSet(monthly=20000)}),))
    )
    org = Org(session, cfg, NOV)
    assert {p.name for p in target_people(session, Scope.team("ae"))} == {"Sam"}
    for day in (3, 4, 5):
        org.activity("sam", "meeting", utc(day), booked_at=utc(day), outcome="completed")
        org.deal("sam", utc(day), amount=1000, closed=utc(day + 1), won=True)
    org.deal("max", utc(20), amount=6000)  # the manager's own open deal is pipeline
    refresh_rollups(session, config=cfg)
    for scope in (Scope.team("ae"), Scope.org()):
        model = growth_model(session, config=cfg, scope=scope, as_of=END)
        assert (model.month.target, model.month.naive) == (20000, 20000)
        assert model.month.deals_needed == 20  # 20000 / 1000, not 70000 / 1000
    dec = (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    for scope in (Scope.team("ae"), Scope.org()):
        looked_up = metric_value(
            session, config=cfg, metric="pipeline_coverage", scope=scope, start=dec[0], end=dec[1]
        )
        grouped = pipeline_coverage(session, config=cfg, scope=scope, start=dec[0], end=dec[1])
        assert looked_up.value == grouped.value == pytest.approx(6000 / 20000)
    # November: 3000 booked of 20000; with a target of 2000 nothing remains: n/a
    made = metric_value(
        session, config=cfg, metric="pipeline_coverage", scope=Scope.team("ae"), start=NOV, end=END
    )
    # 20000 × 20/21 (Thanksgiving off), less the 3000 booked
    assert made.value == pytest.approx(6000 / (20000 * 20 / 21 - 3000))
    tiny = cfg.model_copy(
        update={
            "metrics": (MetricConfig(name="bookings", targets={"ae": TargetSet(monthly=2000)}),)
        }
    )
    for coverage in (
        metric_value(
            session,
            config=tiny,
            metric="pipeline_coverage",
            scope=Scope.team("ae"),
            start=NOV,
            end=END,
        ),
        pipeline_coverage(session, config=tiny, scope=Scope.team("ae"), start=NOV, end=END),
    ):
        assert coverage.value is None and coverage.denominator == 0  # 3000 booked of 2000


def test_zero_win_rate_is_a_number_not_missing_data(session: Session) -> None:
    """Closed deals, none won: velocity 0 and a 0 projection, each saying why."""
    cfg = config()
    org = Org(session, cfg, NOV)
    for day in (3, 4, 5, 6):
        org.activity("sam", "meeting", utc(day), booked_at=utc(day), outcome="completed")
        org.deal("sam", utc(day), amount=1000, closed=utc(day + 5), won=False)
    org.deal("sam", utc(10), amount=5000)  # open
    refresh_rollups(session, config=cfg)
    v = revenue_velocity(session, config=cfg, scope=Scope.org(), start=NOV, end=END)
    assert (v.win_rate, v.avg_deal_size, v.value) == (0.0, None, 0.0)
    assert v.note == "no deal won: 4 closed, all lost"
    assert velocity_formula(3, 0.0, None, None) == 0.0
    model = growth_model(session, config=cfg, scope=Scope.org(), as_of=END, month_target=10000)
    assert model.win_rate == 0.0 and model.bookings_per_meeting == 0.0
    assert model.month.projected_bookings == 0.0 and model.month.gap == 10000
    assert model.month.meetings_needed is None  # no number of meetings makes it
    assert any("no deal won" in w for w in model.warnings)
    empty = project(
        label="Dec",
        start=dt.date(2026, 12, 1),
        end=dt.date(2026, 12, 31),
        working_days=20,
        meetings_per_day=1,
        m2o=0.5,
        win=None,  # nothing closed: unknown, not zero
        size=None,
        target=1000,
    )
    assert empty.projected_bookings is None


def test_open_deals_at_month_end_in_the_owners_zone(session: Session) -> None:
    """A deal a Chicago rep closes at 23:30 on Nov 30 is won in November (rollups place it
    on the rep's local day) and so not open at November's end — midnight in Chicago, not
    midnight in New York (the org's zone), when it was still open."""
    cfg = config()
    org = Org(session, cfg, NOV)
    org.deal("dana", utc(2), amount=1000, closed=local(CHICAGO, 2026, 11, 30, 23, 30), won=True)
    org.deal("dana", utc(3), amount=1000)  # open
    refresh_rollups(session, config=cfg)
    v = revenue_velocity(
        session, config=cfg, scope=Scope.person(org.person["dana"]), start=NOV, end=END
    )
    assert v.win_rate == 1.0  # won in November
    assert v.open_opportunities == 1
    org_v = revenue_velocity(session, config=cfg, scope=Scope.org(), start=NOV, end=END)
    team_v = revenue_velocity(session, config=cfg, scope=Scope.team("sdr"), start=NOV, end=END)
    assert org_v.open_opportunities == team_v.open_opportunities == 1


def test_stage_funnel_leaves_out_unmapped_owners(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, NOV)
    mine = org.deal("sam", utc(3), amount=100)
    ghosts = org.deal("ghost", utc(3), amount=100)  # a CRM owner mapped to no one
    for deal in (mine, ghosts):
        session.add(DealStageChange(deal_id=deal.id, stage="qualified", entered_at=utc(5)))
    session.flush()
    refresh_rollups(session, config=cfg)
    (cohort,) = stage_funnel(session, config=cfg, stages=["qualified"], start=NOV, end=END)
    created = metric_value(
        session, config=cfg, metric="opportunities_created", scope=Scope.org(), start=NOV, end=END
    ).value
    assert [s.count for s in cohort.steps] == [1, 1]
    assert created == 1  # the same deals as the rollups count
