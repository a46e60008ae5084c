"""Funnel conversion: the activity funnel from rollups, and deal stages by creation cohort.

Activity funnel (any scope and period, from rollups): activities (calls + emails) →
meetings booked → meetings held → opportunities created → deals won, each step with its
conversion from the previous one (a ratio of sums over the period; steps are counted in the
same period, not followed per record).

Stage funnel (from `deal_stage_history`): deals created in each cohort (calendar month of
`created_at` in the org zone) and how many reached each stage of an ordered list — a deal
reached a stage if it entered it or any later one; a won deal reached them all. Deals of CRM
owners mapped to no one are left out at every scope, as the rollups leave them out.
`funnel_stages` gives that list: `[pipeline] stages` from the org config when set, else
`stage_order`'s inference (the open stages such deals went through, in the order they enter
them). `stages_entered` lists every stage stored deals entered, so `check-config --crm` can
show which of them the configured list leaves out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.lookup import Scope, base_sums
from metrics.models import CrmUser, Deal, DealStageChange, Person


@dataclass(frozen=True)
class FunnelStep:
    name: str
    label: str
    count: float
    conversion: float | None  # from the previous step; None for the first or after a zero


ACTIVITY_STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("activities", "Calls + emails", ("calls", "emails")),
    ("meetings_booked", "Meetings booked", ("meetings_booked",)),
    ("meetings_held", "Meetings held", ("meetings_held",)),
    ("opportunities_created", "Opps created", ("opportunities_created",)),
    ("deals_won", "Deals won", ("deals_won",)),
)


def steps_with_conversion(counts: list[tuple[str, str, float]]) -> list[FunnelStep]:
    steps: list[FunnelStep] = []
    for name, label, count in counts:
        before = steps[-1].count if steps else None
        conversion = None if not before else count / before
        steps.append(FunnelStep(name, label, count, conversion))
    return steps


def activity_funnel(
    session: Session, *, scope: Scope, start: dt.date, end: dt.date
) -> list[FunnelStep]:
    bases = tuple(b for _, _, parts in ACTIVITY_STEPS for b in parts)
    sums = base_sums(session, scope=scope, bases=bases, start=start, end=end)
    return steps_with_conversion(
        [(name, label, sum(sums[b] for b in parts)) for name, label, parts in ACTIVITY_STEPS]
    )


_Row = TypeVarTuple("_Row")


def _created_in(
    query: Select[*_Row], zone: ZoneInfo, start: dt.date, end: dt.date
) -> Select[*_Row]:
    """`query` limited to deals created in [start, end] (org-zone days) by mapped owners."""
    lo = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return (
        query.where(Deal.deleted.is_(False), Deal.created_at >= lo, Deal.created_at < hi)
        .join(CrmUser, CrmUser.id == Deal.owner_id)
        .where(CrmUser.person_id.is_not(None))  # as the rollups: unmapped owners are no one's
    )


def stage_order(
    session: Session, *, config: MetricsConfig, start: dt.date, end: dt.date
) -> list[str]:
    """The open stages the deals created in [start, end] went through (mapped owners, as
    `stage_funnel`), in the order deals enter them: by each stage's mean position in its
    deals' histories (ties by name). A closing stage is left out: one that every deal that
    entered it ended in, closed (closedwon, closedlost)."""
    zone = ZoneInfo(config.org.timezone)
    query = _created_in(select(Deal.id, Deal.is_closed), zone, start, end)
    closed = {deal_id: is_closed for deal_id, is_closed in session.execute(query)}
    histories: dict[int, list[tuple[dt.datetime, str]]] = defaultdict(list)
    ids = list(closed)
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(
                DealStageChange.deal_id, DealStageChange.entered_at, DealStageChange.stage
            ).where(DealStageChange.deal_id.in_(ids[i : i + 500]))
        )
        for deal_id, entered, stage in rows:
            histories[deal_id].append((entered, stage))
    positions: dict[str, list[int]] = defaultdict(list)
    closing: dict[str, bool] = {}
    for deal_id, history in histories.items():
        history.sort()
        for pos, (_, stage) in enumerate(history):
            positions[stage].append(pos)
            ends_here = pos == len(history) - 1 and bool(closed[deal_id])
            closing[stage] = closing.get(stage, True) and ends_here
    return sorted(
        (s for s in positions if not closing[s]),
        key=lambda s: (sum(positions[s]) / len(positions[s]), s),
    )


@dataclass(frozen=True)
class StageOrder:
    stages: tuple[str, ...]
    source: Literal["config", "inferred"]  # `[pipeline] stages`, or `stage_order`


def funnel_stages(
    session: Session, *, config: MetricsConfig, start: dt.date, end: dt.date
) -> StageOrder:
    """The ordered stages to follow the deals created in [start, end] through: exactly
    `[pipeline] stages` when the config sets them (stages no deal reached included), else
    the order `stage_order` infers from the deals' histories."""
    if config.pipeline.stages:
        return StageOrder(config.pipeline.stages, "config")
    inferred = stage_order(session, config=config, start=start, end=end)
    return StageOrder(tuple(inferred), "inferred")


@dataclass(frozen=True)
class StageUsage:
    """A stage stored deals (not deleted) entered: how many, when last, how they ended."""

    stage: str
    deals: int
    last_entered: dt.datetime
    # "won"/"lost": every deal that entered it ended in it, closed, and all won / all lost
    # (HubSpot's closedwon, Salesforce's Closed Lost...); None: deals went on or are open
    ends_as: Literal["won", "lost"] | None


def stages_entered(session: Session) -> list[StageUsage]:
    """Every stage in the stored deals' histories (any owner), most deals first."""
    query = (
        select(
            DealStageChange.deal_id,
            DealStageChange.stage,
            DealStageChange.entered_at,
            Deal.is_closed,
            Deal.is_won,
        )
        .join(Deal, Deal.id == DealStageChange.deal_id)
        .where(Deal.deleted.is_(False))
        .order_by(DealStageChange.deal_id, DealStageChange.entered_at, DealStageChange.id)
        .execution_options(yield_per=5000)
    )
    deals: dict[str, int] = defaultdict(int)
    last: dict[str, dt.datetime] = {}
    ends: dict[str, set[str]] = defaultdict(set)  # "won", "lost" (closed in it) or "on"
    for _, group in itertools.groupby(session.execute(query), key=lambda row: row.deal_id):
        history = list(group)
        final = history[-1]
        for stage in {row.stage for row in history}:
            deals[stage] += 1
            closed_here = stage == final.stage and final.is_closed
            ends[stage].add(("won" if final.is_won else "lost") if closed_here else "on")
        for row in history:
            last[row.stage] = max(last.get(row.stage, row.entered_at), row.entered_at)
    usage = []
    for stage, count in deals.items():
        ends_as: Literal["won", "lost"] | None = None
        if ends[stage] == {"won"} or ends[stage] == {"lost"}:
            ends_as = "won" if ends[stage] == {"won"} else "lost"
        usage.append(StageUsage(stage, count, last[stage], ends_as))
    return sorted(usage, key=lambda u: (-u.deals, u.stage))


@dataclass(frozen=True)
class Cohort:
    month: dt.date  # first day of the creation month
    steps: tuple[FunnelStep, ...]  # "created" first, then each stage


def stage_funnel(
    session: Session,
    *,
    config: MetricsConfig,
    stages: Sequence[str],
    start: dt.date,
    end: dt.date,
    scope: Scope | None = None,
) -> list[Cohort]:
    """Cohorts of deals created in [start, end] (org-zone months) through ordered `stages`."""
    if not stages:
        raise ValueError("give the ordered list of stages to follow")
    zone = ZoneInfo(config.org.timezone)
    query = _created_in(select(Deal.id, Deal.created_at, Deal.is_won), zone, start, end)
    if scope is not None and scope.kind == "person":
        query = query.where(CrmUser.person_id == scope.key)
    elif scope is not None and scope.kind == "team":
        query = query.join(Person, Person.id == CrmUser.person_id).where(
            Person.team_key == scope.key
        )
    deals = {deal_id: (created, won) for deal_id, created, won in session.execute(query)}
    reached: dict[int, int] = dict.fromkeys(deals, -1)
    index = {stage: i for i, stage in enumerate(stages)}
    ids = list(deals)
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(DealStageChange.deal_id, DealStageChange.stage).where(
                DealStageChange.deal_id.in_(ids[i : i + 500])
            )
        )
        for deal_id, stage in rows:
            if stage in index:
                reached[deal_id] = max(reached[deal_id], index[stage])
    cohorts: dict[dt.date, list[float]] = defaultdict(lambda: [0.0] * (len(stages) + 1))
    for deal_id, (created, won) in deals.items():
        month = created.astimezone(zone).date().replace(day=1)
        depth = len(stages) - 1 if won else reached[deal_id]
        counts = cohorts[month]
        counts[0] += 1
        for s in range(depth + 1):
            counts[s + 1] += 1
    return [
        Cohort(
            month,
            tuple(
                steps_with_conversion(
                    [("created", "Created", counts[0])]
                    + [(stage, stage, counts[i + 1]) for i, stage in enumerate(stages)]
                )
            ),
        )
        for month, counts in sorted(cohorts.items())
    ]
