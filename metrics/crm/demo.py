"""The demo CRM: a deterministic, seeded timeline of a revenue org's CRM activity.

Everything is a function of (seed, person, day): extending `end` only adds what happened
after the old end, so the demo connector is incremental like a real CRM. Records are a
snapshot "as of `end`": a deal created in the window but closed after `end` is still open;
a meeting booked before `end` for next week is `scheduled`.

Shape: working-day activity with a weekday curve (Friday light), a summer and December dip
and an end-of-quarter push; per-rep performance and trend (some ahead, some behind); a
funnel of calls/emails -> meetings (~6% of SDR touches) -> opportunities (AE) ->
won ~25% / lost, deal sizes lognormal around $24k (AE new business) and $15k/$8k (CS
renewal/expansion), cycles of 3-12 weeks, about 3% of deals with no amount yet.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from metrics.crm.demo_org import DemoOrg, DemoPerson, build_org
from metrics.crm.records import (
    ActivityRecord,
    Cursor,
    DealRecord,
    OwnerRecord,
    Page,
    StageEntry,
)

SOURCE = "demo"
# Mean daily counts at performance 1.0, per function: calls, emails, meetings booked, tasks.
VOLUMES: dict[str, tuple[float, float, float, float]] = {
    "sdr": (6.5, 3.5, 0.9, 0.2),
    "ae": (2.2, 2.2, 0.6, 0.2),
    "cs": (1.6, 1.9, 0.45, 0.2),
}
MANAGER_VOLUMES = (0.4, 0.8, 0.1, 0.0)
OPPS_PER_DAY = {"ae": 0.55, "cs": 0.25}
CALL_OUTCOMES = (("connected", 0.17), ("no_answer", 0.5), ("voicemail", 0.28), ("busy", 0.05))
AE_STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation")
CS_STAGES = ("qualification", "proposal", "negotiation")
WEEKDAY = (1.05, 1.1, 1.05, 1.0, 0.8, 0.0, 0.0)
UTC = dt.UTC


def season(day: dt.date) -> float:
    """Seasonal factor: quiet August and late December, a push at quarter end."""
    factor = 1.0
    if day.month == 8:
        factor *= 0.85
    if day.month == 12 and day.day >= 20:
        factor *= 0.45
    if day.month in (3, 6, 9, 12) and day.day >= 18 and day.month != 12:
        factor *= 1.12
    return factor


def _count(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean < 12:  # Poisson by inversion
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


class DemoConnector:
    """The demo org's CRM as a connector (source "demo")."""

    source = SOURCE

    def __init__(
        self,
        org: DemoOrg,
        *,
        end: dt.datetime,
        months: int = 6,
        page_size: int = 50_000,
    ) -> None:
        if end.tzinfo is None:
            raise ValueError("end must be timezone-aware")
        self.org = org
        self.end = end.astimezone(UTC)
        self.start = (self.end - dt.timedelta(days=round(months * 30.4))).date()
        self.page_size = page_size
        self._zones: dict[str, ZoneInfo] = {}

    @classmethod
    def for_reps(cls, reps: int, *, seed: int, end: dt.datetime, months: int = 6) -> DemoConnector:
        return cls(build_org(reps, seed=seed), end=end, months=months)

    # ---------------------------------------------------------------- connector interface
    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]:
        since = cursor.modified_at
        created = dt.datetime.combine(self.start, dt.time(0), tzinfo=UTC)
        records = [
            OwnerRecord(p.owner_id, p.email, p.name, True, created) for p in self.org.crm_people
        ]
        # A rep who left: inactive, mapped to nobody (shows in check-config --crm).
        records.append(
            OwnerRecord("u-departed", f"former.rep@{self.org.domain}", "Former Rep", False, created)
        )
        fresh = [r for r in records if since is None or (r.modified_at or created) > since]
        yield Page(fresh, Cursor(created, None, {"end": self.end.isoformat()}))

    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]:
        return self._pages(cursor, self._deals_for)

    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]:
        return self._pages(cursor, self._activities_for)

    def usage(self) -> dict[str, Any]:
        return {"reps": len(self.org.reps), "start": self.start.isoformat()}

    def close(self) -> None:
        return None

    # ---------------------------------------------------------------- paging
    # Activities go day by day across everyone (so index inserts append, which keeps bulk
    # loads fast); deals go person by person. The cursor state says which unit is next.
    def _pages(self, cursor: Cursor, make: Any) -> Iterator[Page[Any]]:
        state = cursor.state or {}
        end_iso = self.end.isoformat()
        since_iso = cursor.modified_at.isoformat() if cursor.modified_at else None
        first = 0
        if state.get("end") == end_iso and state.get("next") is not None:
            first, since_iso = int(state["next"]), state.get("since")
        since = dt.datetime.fromisoformat(since_iso) if since_iso else None
        if since is not None and since >= self.end:
            return
        units = self._units(make, since)
        if first >= len(units):
            return
        batch: list[Any] = []
        for i in range(first, len(units)):
            batch.extend(make(units[i], since))
            last = i == len(units) - 1
            if len(batch) >= self.page_size or last:
                state = {"end": end_iso, "since": since_iso, "next": i + 1}
                done_at = self.end if last else cursor.modified_at
                yield Page(batch, Cursor(done_at, None, state))
                batch = []

    def _units(self, make: Any, since: dt.datetime | None) -> list[Any]:
        if make == self._deals_for:
            return list(self.org.crm_people)
        return list(self._days(since))

    def _zone(self, name: str) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = ZoneInfo(name)
        return zone

    def _days(self, since: dt.datetime | None) -> Iterator[dt.date]:
        first = self.start
        if since is not None:
            first = max(first, (since - dt.timedelta(days=60)).date())
        day = first
        last = self.end.date()
        while day <= last:
            yield day
            day += dt.timedelta(days=1)

    def _perf(self, person: DemoPerson, day: dt.date) -> float:
        """Performance drifts on a slow ~8-month cycle (independent of `end`, so extending
        the window never rewrites the past)."""
        return person.performance * (1 + person.trend * math.sin(day.toordinal() / 38.2))

    # ---------------------------------------------------------------- activities
    def _activities_for(self, day: dt.date, since: dt.datetime | None) -> list[ActivityRecord]:
        out: list[ActivityRecord] = []
        weekday = WEEKDAY[day.weekday()]
        if weekday == 0:
            return out
        for person in self.org.crm_people:
            out.extend(self._person_day(person, day, weekday, since))
        return out

    def _person_day(
        self, person: DemoPerson, day: dt.date, weekday: float, since: dt.datetime | None
    ) -> list[ActivityRecord]:
        out: list[ActivityRecord] = []
        function = person.function or "ae"
        calls_m, emails_m, meetings_m, tasks_m = VOLUMES[function]
        if person.role == "manager":
            calls_m, emails_m, meetings_m, tasks_m = MANAGER_VOLUMES
        zone = self._zone(person.timezone)
        owner, end = person.owner_id, self.end
        rng = random.Random(f"{self.org.seed}:a:{person.index}:{day.toordinal()}")
        factor = weekday * season(day) * self._perf(person, day)
        base = dt.datetime.combine(day, dt.time(8, 30), tzinfo=zone).astimezone(UTC)
        prefix = f"{day.toordinal()}-{person.index}-"
        k = 0
        for kind, mean in (("call", calls_m), ("email", emails_m), ("task", tasks_m)):
            for _ in range(_count(rng, mean * factor)):
                at = base + dt.timedelta(seconds=rng.randrange(9 * 3600))
                k += 1
                outcome = direction = duration = None
                if kind == "call":
                    outcome = _pick(rng, CALL_OUTCOMES)
                    direction = "outbound" if rng.random() < 0.92 else "inbound"
                    connected = outcome == "connected"
                    duration = rng.randrange(120, 1500) if connected else rng.randrange(5, 60)
                elif kind == "email":
                    direction = "outbound" if rng.random() < 0.8 else "inbound"
                # Every draw happens before this filter, so the stream never depends on `end`.
                if at > end or (since is not None and at <= since):
                    continue
                out.append(
                    ActivityRecord(
                        prefix + str(k),
                        kind,
                        owner,
                        at,
                        at,
                        None,
                        outcome,
                        direction,
                        duration,
                        None,
                        f"{kind} {k}",
                    )
                )
        for _ in range(_count(rng, meetings_m * factor)):
            k += 1
            booked = base + dt.timedelta(seconds=rng.randrange(9 * 3600))
            start_day = day + dt.timedelta(days=rng.randrange(1, 9))
            if start_day.weekday() >= 5:
                start_day += dt.timedelta(days=7 - start_day.weekday())
            start = dt.datetime.combine(
                start_day, dt.time(rng.randrange(9, 17), rng.choice((0, 30))), tzinfo=zone
            ).astimezone(UTC)
            fate = rng.random()
            outcome, changed = "scheduled", booked
            if fate < 0.1:
                cancel_at = booked + (start - booked) * rng.random()
                if cancel_at <= end:
                    outcome, changed = "cancelled", cancel_at
            elif start + dt.timedelta(hours=1) <= end:
                outcome = "no_show" if fate < 0.2 else "completed"
                changed = start + dt.timedelta(hours=1)
            if booked > end or (since is not None and changed <= since):
                continue
            label = "Demo" if function == "ae" else ("Discovery" if function == "sdr" else "QBR")
            out.append(
                ActivityRecord(
                    prefix + str(k),
                    "meeting",
                    owner,
                    start,
                    changed,
                    booked,
                    outcome,
                    None,
                    1800,
                    None,
                    f"{label} meeting",
                )
            )
        return out

    # ---------------------------------------------------------------- deals
    def _deals_for(self, person: DemoPerson, since: dt.datetime | None) -> list[DealRecord]:
        function = person.function
        if person.role != "rep" or function not in OPPS_PER_DAY:
            return []
        out: list[DealRecord] = []
        zone = self._zone(person.timezone)
        history_start = self.start - dt.timedelta(days=90)  # open pipeline at the window start
        day = history_start
        while day <= self.end.date():
            if WEEKDAY[day.weekday()] and (
                since is None or day >= (since - dt.timedelta(days=200)).date()
            ):
                rng = random.Random(f"{self.org.seed}:d:{person.index}:{day.toordinal()}")
                mean = OPPS_PER_DAY[function] * WEEKDAY[day.weekday()] * self._perf(person, day)
                for k in range(_count(rng, mean)):
                    deal = self._deal(rng, person, function, zone, day, k, since)
                    if deal is not None:
                        out.append(deal)
            day += dt.timedelta(days=1)
        return out

    def _deal(
        self,
        rng: random.Random,
        person: DemoPerson,
        function: str,
        zone: ZoneInfo,
        day: dt.date,
        k: int,
        since: dt.datetime | None,
    ) -> DealRecord | None:
        created = dt.datetime.combine(
            day, dt.time(rng.randrange(9, 17), rng.randrange(60)), tzinfo=zone
        ).astimezone(UTC)
        stages: tuple[str, ...]
        if function == "ae":
            stages, deal_type = AE_STAGES, "new"
            win = min(0.25 * math.sqrt(person.performance), 0.45)
            median = 24000.0
            lead_source = _pick(rng, (("sdr", 0.5), ("inbound", 0.3), ("outbound", 0.2)))
        else:
            stages = CS_STAGES
            deal_type = "renewal" if rng.random() < 0.6 else "expansion"
            win = 0.85 if deal_type == "renewal" else 0.5
            median = 15000.0 if deal_type == "renewal" else 8000.0
            lead_source = "customer"
        won = rng.random() < win
        cycle = max(7.0, rng.gauss(50 if won else 30, 15)) * (0.6 if function == "cs" else 1.0)
        close_at = created + dt.timedelta(days=cycle, hours=rng.randrange(0, 6))
        reached = len(stages) if won else rng.randrange(1, len(stages) + 1)
        history = [
            StageEntry(stages[i], created + dt.timedelta(days=cycle * i / (reached + 1)))
            for i in range(reached)
        ]
        history.append(StageEntry("closedwon" if won else "closedlost", close_at))
        amount_raw = rng.lognormvariate(math.log(median), 0.6)
        missing = rng.random() < 0.03
        name = f"{rng.choice(_COMPANIES)} - {deal_type}"
        # Every draw happens above, so the stream never depends on `end` or `since`.
        if created > self.end:
            return None
        visible = tuple(e for e in history if e.entered_at <= self.end)
        modified = visible[-1].entered_at
        if since is not None and modified <= since:
            return None
        closed = close_at <= self.end
        return DealRecord(
            external_id=f"d{person.index}-{day.toordinal()}-{k}",
            owner_external_id=person.owner_id,
            created_at=created,
            modified_at=modified,
            name=name,
            pipeline="default",
            stage=visible[-1].stage,
            amount=None if missing else Decimal(round(amount_raw, -2)).quantize(Decimal("1.00")),
            currency=person.currency,
            deal_type=deal_type,
            lead_source=lead_source,
            close_date=close_at.date(),
            closed_at=close_at if closed else None,
            is_closed=closed,
            is_won=closed and won,
            stage_history=visible,
        )


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


_COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Aperture",
    "Vandelay",
    "Wonka",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Nakatomi",
    "Dunder",
    "Pied",
    "Massive",
]
