"""The monthly business review: the month in numbers, for the first working day after it.

`monthly_review(session, config=..., month=...)` gathers, all from the metrics engine:
outputs vs target (org and per team), inputs vs target by team, the activity funnel's step
conversion vs the prior three months, velocity and its acceleration month over month, the
top performers by name, daily bookings for the trend chart, the growth model (next
month's projected bookings from volumes × conversion rates, and the inputs needed), what
predicts bookings (the driver analysis over the trailing 12 whole weeks, per rep per week)
and the stage conversion of the deals created in the month (through `[pipeline] stages` when
the config lists them, else through the order inferred from the deals' stage histories).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from metrics.batch import values_by_person
from metrics.drivers import driver_analysis
from metrics.funnel import Cohort, FunnelStep, activity_funnel, funnel_stages, stage_funnel
from metrics.group_values import org_daily_totals
from metrics.growth import GrowthModel, growth_model
from metrics.lookup import Scope, catalog_for, metric_value, target_people
from metrics.models import Person
from metrics.scoreboards import work_calendar
from metrics.targets import TargetMemo, group_target, person_target, status_for
from metrics.velocity import Velocity, revenue_velocity
from rhythms.config import OrgConfig

OUTPUTS = (
    "bookings",
    "deals_won",
    "win_rate",
    "avg_deal_size",
    "pipeline_created",
    "sales_cycle_days",
)

DRIVER_OUTPUT = "bookings"
DRIVER_WEEKS = 12  # whole ISO weeks, ending on the last Sunday of the month
DRIVER_MIN_SAMPLES = 10  # fewer rep-weeks: say there is not enough data, show no fit
DRIVER_TOP = 3


@dataclass(frozen=True)
class Line:
    metric: str
    label: str
    unit: str
    value: float | None
    target: float | None
    previous: float | None  # the month before
    status: str
    excluded: int = 0  # records left out of the value (no amount, or no rate for it)


@dataclass(frozen=True)
class TeamReview:
    team_key: str
    team_name: str
    outputs: tuple[Line, ...]
    inputs: tuple[Line, ...]


@dataclass(frozen=True)
class Performer:
    name: str
    team_name: str
    why: str


@dataclass(frozen=True)
class DriverLine:
    metric: str
    label: str
    r2: float
    n: int  # rep-weeks


@dataclass(frozen=True)
class Drivers:
    """What predicts the output per rep per week over [start, end]: correlation only."""

    output: str
    output_label: str
    start: dt.date
    end: dt.date
    samples: int
    lines: tuple[DriverLine, ...]  # best first; empty when there is not enough data
    warnings: tuple[str, ...]  # the analysis's own (small sample, weak fit)


@dataclass(frozen=True)
class Review:
    month: dt.date
    label: str
    org: tuple[Line, ...]
    teams: tuple[TeamReview, ...]
    funnel: tuple[FunnelStep, ...]
    funnel_prior: tuple[FunnelStep, ...]  # the three months before, summed
    velocity: Velocity
    velocity_before: Velocity
    performers: tuple[Performer, ...]
    growth: GrowthModel
    daily_bookings: tuple[float, ...]  # the org's, as the headline: every rollup row
    bookings_target: float | None
    currency: str
    drivers: Drivers | None = None  # None: the output metric is not in the catalog
    cohort: Cohort | None = None  # deals created in the month by stage reached; None: none

    @property
    def acceleration(self) -> float | None:
        if self.velocity.value is None or not self.velocity_before.value:
            return None
        return self.velocity.value / self.velocity_before.value - 1


def month_bounds(first: dt.date) -> tuple[dt.date, dt.date]:
    first = first.replace(day=1)
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def shift_month(first: dt.date, months: int) -> dt.date:
    index = first.month - 1 + months
    return dt.date(first.year + index // 12, index % 12 + 1, 1)


def _people(session: Session, team_key: str | None = None) -> list[Person]:
    """Whose targets add up (active reps, by name): `metrics.lookup.target_people`, as the
    growth model's reps × quota and the control tower's targets."""
    return target_people(session, Scope.org() if team_key is None else Scope.team(team_key))


def _lines(
    session: Session,
    config: OrgConfig,
    scope: Scope,
    people: list[Person],
    metrics: list[str],
    first: dt.date,
    last: dt.date,
) -> tuple[Line, ...]:
    work = work_calendar(config)
    catalog = catalog_for(config)
    before_first, before_last = month_bounds(shift_month(first, -1))
    out = []
    for name in metrics:
        if name not in catalog.metrics:
            continue
        defn = catalog.get(name)
        found = metric_value(
            session, config=config, metric=name, scope=scope, start=first, end=last
        )
        value = found.value
        previous = metric_value(
            session, config=config, metric=name, scope=scope, start=before_first, end=before_last
        ).value
        target = group_target(config, work, defn, people, first, last)
        status = (
            status_for(value or 0.0, target, config.org, higher_is_better=defn.higher_is_better)
            if value is not None
            else "none"
        )
        out.append(
            Line(name, defn.label, defn.unit, value, target, previous, status, found.excluded)
        )
    return tuple(out)


def monthly_review(session: Session, *, config: OrgConfig, month: dt.date) -> Review:
    first, last = month_bounds(month)
    catalog = catalog_for(config)
    inputs = [d.name for d in catalog.metrics.values() if d.kind == "input" and d.additive]
    everyone = _people(session)
    org = _lines(session, config, Scope.org(), everyone, list(OUTPUTS), first, last)
    teams = []
    for team in config.teams:
        people = _people(session, team.key)
        scope = Scope.team(team.key)
        outputs = _lines(
            session, config, scope, people, ["bookings", "deals_won", "win_rate"], first, last
        )
        ins = tuple(
            line
            for line in _lines(session, config, scope, people, inputs, first, last)
            if line.target is not None
        )
        teams.append(TeamReview(team.key, team.name, outputs, ins))
    prior_first = shift_month(first, -3)
    prior_last = first - dt.timedelta(days=1)
    previous_first, previous_last = month_bounds(shift_month(first, -1))
    bookings = catalog.get("bookings")
    # the org's rows, as the headline's `Scope.org()`: managers' and former reps' too
    daily = tuple(org_daily_totals(session, defn=bookings, start=first, end=last))
    target = next((ln.target for ln in org if ln.metric == "bookings"), None)
    return Review(
        month=first,
        label=first.strftime("%B %Y"),
        org=org,
        teams=tuple(teams),
        funnel=tuple(activity_funnel(session, scope=Scope.org(), start=first, end=last)),
        funnel_prior=tuple(
            activity_funnel(session, scope=Scope.org(), start=prior_first, end=prior_last)
        ),
        velocity=revenue_velocity(session, config=config, scope=Scope.org(), start=first, end=last),
        velocity_before=revenue_velocity(
            session, config=config, scope=Scope.org(), start=previous_first, end=previous_last
        ),
        performers=tuple(
            top_performers(session, config=config, people=everyone, first=first, last=last)
        ),
        growth=growth_model(session, config=config, scope=Scope.org(), as_of=last),
        daily_bookings=daily,
        bookings_target=target,
        currency=config.currency.reporting,
        drivers=review_drivers(session, config=config, last=last),
        cohort=month_cohort(session, config=config, first=first, last=last),
    )


def review_drivers(session: Session, *, config: OrgConfig, last: dt.date) -> Drivers | None:
    """The driver analysis of `DRIVER_OUTPUT` over the `DRIVER_WEEKS` whole ISO weeks ending
    on the last Sunday on or before `last`; no lines under `DRIVER_MIN_SAMPLES` rep-weeks."""
    catalog = catalog_for(config)
    if DRIVER_OUTPUT not in catalog.metrics:
        return None
    end = last - dt.timedelta(days=last.isoweekday() % 7)
    start = end - dt.timedelta(weeks=DRIVER_WEEKS, days=-1)
    analysis = driver_analysis(session, config=config, output=DRIVER_OUTPUT, start=start, end=end)
    enough = analysis.samples >= DRIVER_MIN_SAMPLES
    lines = tuple(
        DriverLine(d.metric, catalog.get(d.metric).label, d.r2, d.n)
        for d in analysis.drivers[:DRIVER_TOP]
    )
    return Drivers(
        output=DRIVER_OUTPUT,
        output_label=catalog.get(DRIVER_OUTPUT).label,
        start=start,
        end=end,
        samples=analysis.samples,
        lines=lines if enough else (),
        warnings=analysis.warnings if enough and lines else (),
    )


def month_cohort(
    session: Session, *, config: OrgConfig, first: dt.date, last: dt.date
) -> Cohort | None:
    """Deals created in the month (mapped owners) through the stages they went through:
    `[pipeline] stages` when the config lists them, else the order their histories run."""
    stages = funnel_stages(session, config=config, start=first, end=last).stages
    if not stages:
        return None
    cohorts = stage_funnel(session, config=config, stages=stages, start=first, end=last)
    return cohorts[0] if cohorts else None


def top_performers(
    session: Session,
    *,
    config: OrgConfig,
    people: list[Person],
    first: dt.date,
    last: dt.date,
    n: int = 3,
) -> list[Performer]:
    """Credit by name: the top closers by bookings, then the top input-pace reps."""
    if not people:
        return []
    catalog = catalog_for(config)
    work = work_calendar(config)
    teams = {t.key: t.name for t in config.teams}
    ids = [p.id for p in people]
    booked = values_by_person(
        session, defn=catalog.get("bookings"), person_ids=ids, start=first, end=last
    )
    out: list[Performer] = []
    closers = sorted(
        (p for p in people if (booked[p.id] or 0) > 0), key=lambda p: -(booked[p.id] or 0)
    )[:n]
    for p in closers:
        out.append(
            Performer(
                p.name,
                teams.get(p.team_key or "", ""),
                f"{booked[p.id] or 0:,.0f} {config.currency.reporting} booked",
            )
        )
    shares: dict[int, list[float]] = {}
    memo: TargetMemo = {}  # one target per (team, role), personal ones per person
    for name in ("calls", "meetings_booked", "opportunities_created"):
        if name not in catalog.metrics:
            continue
        defn = catalog.get(name)
        values = values_by_person(session, defn=defn, person_ids=ids, start=first, end=last)
        for p in people:
            target = person_target(config, work, defn, p, first, last, memo)
            if target:
                shares.setdefault(p.id, []).append(min((values[p.id] or 0) / target, 2.0))
    named = {perf.name for perf in out}
    average = {pid: sum(v) / len(v) for pid, v in shares.items()}
    best = sorted(
        (p for p in people if average.get(p.id, 0) >= 1.0 and p.name not in named),
        key=lambda p: -average[p.id],
    )[:n]
    for p in best:
        out.append(
            Performer(
                p.name, teams.get(p.team_key or "", ""), f"inputs at {average[p.id]:.0%} of target"
            )
        )
    return out
