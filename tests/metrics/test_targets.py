from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from metrics.builtins import BUILTIN_METRIC_NAMES
from metrics.calendar import WorkCalendar
from metrics.catalog import build_catalog
from metrics.config import MetricConfig, OrgSettings, PersonConfig, TargetSet
from metrics.targets import (
    expected_by,
    group_target,
    resolve_target,
    status_for,
    target_for_range,
)
from tests.metrics.builders import THANKSGIVING, config

ORG = OrgSettings(name="Acme", status_green_at=1.0, status_yellow_at=0.8)


def test_catalog_has_every_builtin_and_config_order_first() -> None:
    catalog = build_catalog(config())
    assert set(catalog.metrics) >= BUILTIN_METRIC_NAMES
    assert list(catalog.metrics)[:3] == ["calls", "emails", "win_rate"]
    assert catalog.get("win_rate").denominator == ("deals_won", "deals_lost")
    assert catalog.get("avg_call_minutes").numerator == ("avg_call_minutes.sum",)
    with pytest.raises(KeyError, match="unknown metric 'callz'"):
        catalog.get("callz")


def test_precedence_person_then_team_then_role() -> None:
    cfg = config()

    def daily(metric: str, email: str, team: str) -> float | None:
        return resolve_target(cfg, metric, "daily", email=email, role="rep", team=team)

    assert daily("calls", "sam@acme.test", "ae") == 10  # role
    assert daily("calls", "lee@acme.test", "sdr") == 8  # team beats role
    assert daily("emails", "dana@acme.test", "sdr") == 5  # person beats role
    assert daily("emails", "lee@acme.test", "sdr") == 4
    assert daily("win_rate", "lee@acme.test", "sdr") is None
    # Per period: the team sets only daily, so the weekly target still comes from the role.
    weekly = resolve_target(cfg, "calls", "weekly", email="lee@acme.test", role="rep", team="sdr")
    assert weekly == 40


def test_team_key_targets_are_for_the_teams_reps_only() -> None:
    """A team's target is its reps' (`team_target` adds up reps): a manager on the team is
    not held to a rep's target — their own, else their role's, else none."""
    cfg = config(
        metrics=(
            MetricConfig(
                name="calls",
                targets={"sdr": TargetSet(daily=8), "manager": TargetSet(daily=2)},
            ),
            MetricConfig(name="emails", targets={"sdr": TargetSet(daily=4)}),
        ),
        people=(
            PersonConfig(email="mo@acme.test", name="Mo", role="manager", team="sdr"),
            PersonConfig(
                email="max@acme.test",
                name="Max",
                role="manager",
                team="sdr",
                targets={"emails": TargetSet(daily=3)},
            ),
        ),
    )

    def daily(metric: str, email: str, role: str) -> float | None:
        return resolve_target(cfg, metric, "daily", email=email, role=role, team="sdr")

    assert daily("calls", "rep@acme.test", "rep") == 8  # the team's, for its reps
    assert daily("calls", "mo@acme.test", "manager") == 2  # the role's, not the reps'
    assert daily("emails", "mo@acme.test", "manager") is None  # no rep's target
    assert daily("emails", "max@acme.test", "manager") == 3  # a personal target still applies
    assert daily("emails", "cro@acme.test", "exec") is None


def test_target_for_a_range_uses_working_days_and_explicit_periods() -> None:
    """Weekly and monthly targets are for normal weeks and months: a holiday takes its
    working day's share off (the calendar has Thanksgiving off, no country)."""
    cfg = config(
        metrics=(
            MetricConfig(name="calls", targets={"rep": TargetSet(weekly=40, monthly=150)}),
            MetricConfig(name="meetings_booked", targets={"rep": TargetSet(monthly=21)}),
            MetricConfig(name="win_rate", targets={"rep": TargetSet(monthly=0.3)}),
        ),
        people=(PersonConfig(email="x@acme.test", name="X", role="rep", team="sdr"),),
    )
    work = WorkCalendar(cfg.calendar)
    catalog = build_catalog(cfg)
    calls, win = catalog.get("calls"), catalog.get("win_rate")
    meetings = catalog.get("meetings_booked")

    def target(metric: object, start: dt.date, end: dt.date) -> float | None:
        return target_for_range(
            cfg,
            work,
            metric,
            start,
            end,
            email="x@acme.test",
            role="rep",
            team="sdr",  # type: ignore[arg-type]
        )

    monday = dt.date(2026, 11, 16)
    assert target(calls, monday, monday + dt.timedelta(days=6)) == 40  # explicit week
    assert target(calls, monday, monday + dt.timedelta(days=1)) == pytest.approx(16)  # 2 x 40/5
    # Thanksgiving week has 4 working days of 5: each is still 40/5 = 8, the holiday 0.
    tg_monday = THANKSGIVING - dt.timedelta(days=3)
    assert target(calls, tg_monday, THANKSGIVING) == 24  # Mon-Wed: 3 x 8
    assert target(calls, tg_monday, tg_monday + dt.timedelta(days=6)) == 32  # 40 x 4/5
    # November has 21 weekdays, 20 of them working: 150 x 20/21, kept to 9 decimals.
    assert target(calls, dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == 142.857142857
    assert target(calls, dt.date(2026, 12, 1), dt.date(2026, 12, 31)) == 150  # no holiday
    # Monthly only: 21 / 21 weekdays = 1 a working day; Thanksgiving week has 4.
    assert target(meetings, tg_monday, tg_monday + dt.timedelta(days=6)) == 4
    assert target(win, monday, monday) == 0.3  # a level, never scaled


def test_pace_and_status_bands() -> None:
    catalog = build_catalog(config())
    work = WorkCalendar(config().calendar)
    day = dt.date(2026, 11, 17)
    at_two = dt.datetime(2026, 11, 17, 14, 0)
    assert expected_by(
        9, catalog.get("calls"), work=work, start=day, end=day, local_now=at_two
    ) == pytest.approx(5)
    monday = dt.date(2026, 11, 16)
    week = expected_by(
        40,
        catalog.get("calls"),
        work=work,
        start=monday,
        end=monday + dt.timedelta(days=6),
        local_now=at_two,
    )
    assert week == 12  # calls are counted whole: 40 × (1 + 5/9) / 5 = 12.44 due is 12
    pipeline = expected_by(
        1000, catalog.get("pipeline_created"), work=work, start=day, end=day, local_now=at_two
    )
    assert pipeline == pytest.approx(1000 * 5 / 9)  # money is not: 555.56 due
    assert status_for(5, 5, ORG) == "green"
    assert status_for(4, 5, ORG) == "yellow"
    assert status_for(3.9, 5, ORG) == "red"
    assert status_for(0, 0, ORG) == "green"  # nothing due yet
    assert status_for(3, None, ORG) == "none"
    assert status_for(30, 25, ORG, higher_is_better=False) == "yellow"  # cycle: 25/30 = 83%


def test_group_target_equals_the_members_targets_summed() -> None:
    """`group_target` computes once per (team, role) for members without a personal target;
    the sum must be each member's own target summed, personal overrides included (Dana's
    DANA@ spelling too), for additive metrics; a ratio takes the first member's."""
    cfg = config()
    work = WorkCalendar(cfg.calendar)
    catalog = build_catalog(cfg)
    people = [
        SimpleNamespace(email=email, role=role, team_key=team)
        for email, role, team in [
            ("dana@acme.test", "rep", "sdr"),  # personal emails target
            ("DANA@acme.test", "rep", "sdr"),
            ("lee@acme.test", "rep", "sdr"),
            ("sam@acme.test", "rep", "ae"),
            ("x@acme.test", "rep", "sdr"),
            ("y@acme.test", "manager", "sdr"),
            ("z@acme.test", "rep", None),
            ("", "rep", "ae"),
        ]
    ]
    start, end = dt.date(2026, 11, 16), dt.date(2026, 11, 30)
    for name in ("calls", "emails", "win_rate"):
        defn = catalog.get(name)
        each = [
            target_for_range(
                cfg, work, defn, start, end, email=p.email, role=p.role, team=p.team_key
            )
            for p in people
        ]
        known = [t for t in each if t is not None]
        expected = (sum(known) if defn.additive else known[0]) if known else None
        assert group_target(cfg, work, defn, people, start, end) == expected
    emails = catalog.get("emails")
    dana = target_for_range(
        cfg, work, emails, start, end, email="dana@acme.test", role="rep", team="sdr"
    )
    lee = target_for_range(
        cfg, work, emails, start, end, email="lee@acme.test", role="rep", team="sdr"
    )
    assert dana != lee  # the override is in play


def test_a_group_exactly_on_a_scaled_target_is_green() -> None:
    """November has 20 working days of 21 weekdays (Thanksgiving): a rep's monthly 7000 is
    6666.666666667 kept to 9 decimals, and three of those 20000.000000001 — a team that
    made exactly 20000 would be yellow. The group adds its members' exact shares."""
    cfg = config(metrics=(MetricConfig(name="bookings", targets={"rep": TargetSet(monthly=7000)}),))
    work = WorkCalendar(cfg.calendar)
    bookings = build_catalog(cfg).get("bookings")
    people = [SimpleNamespace(email=f"r{i}@acme.test", role="rep", team_key="ae") for i in range(3)]
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    one = target_for_range(
        cfg, work, bookings, start, end, email="r0@acme.test", role="rep", team="ae"
    )
    assert one == 6666.666666667
    team = group_target(cfg, work, bookings, people, start, end)
    assert team == 20000
    assert status_for(20000, team, ORG) == "green"
