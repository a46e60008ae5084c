"""Small hand-built orgs for metric tests: config, directory, CRM owners, records, dirty marks."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import (
    CalendarConfig,
    CurrencyConfig,
    MetricConfig,
    MetricsConfig,
    OrgSettings,
    PersonConfig,
    TargetSet,
    TeamConfig,
)
from metrics.directory import apply_directory
from metrics.models import Activity, CrmUser, Deal, MetricDaily, Person, RollupDirty

CHICAGO = ZoneInfo("America/Chicago")
BERLIN = ZoneInfo("Europe/Berlin")
THANKSGIVING = dt.date(2026, 11, 26)
_ids = itertools.count(1)


def config(**changes: Any) -> MetricsConfig:
    base = MetricsConfig(
        org=OrgSettings(name="Acme", timezone="America/New_York"),
        calendar=CalendarConfig(extra_holidays=(THANKSGIVING,)),
        currency=CurrencyConfig(reporting="USD", rates={"EUR": 1.1}),
        teams=(TeamConfig(key="sdr", name="SDR"), TeamConfig(key="ae", name="AE")),
        people=(
            PersonConfig(
                email="dana@acme.test",
                name="Dana",
                role="rep",
                team="sdr",
                timezone="America/Chicago",
                targets={"emails": TargetSet(daily=5)},
            ),
            PersonConfig(
                email="lee@acme.test", name="Lee", role="rep", team="sdr", timezone="Europe/Berlin"
            ),
            PersonConfig(email="sam@acme.test", name="Sam", role="rep", team="ae"),
        ),
        metrics=(
            MetricConfig(
                name="calls",
                targets={"rep": TargetSet(daily=10, weekly=40), "sdr": TargetSet(daily=8)},
            ),
            MetricConfig(name="emails", targets={"rep": TargetSet(daily=4)}),
            MetricConfig(name="win_rate"),
            MetricConfig(
                name="demos_held",
                kind="input",
                source="activities",
                filter={"kind": "meeting", "outcome": "completed", "subject_contains": "demo"},
            ),
            MetricConfig(
                name="avg_call_minutes",
                kind="input",
                unit="count",
                source="activities",
                filter={"kind": "call"},
                aggregation="avg",
                value_field="duration_seconds",
            ),
            MetricConfig(
                name="connect_rate",
                kind="output",
                source="ratio",
                numerator="connected_calls",
                denominator="calls",
            ),
        ),
    )
    return base.model_copy(update=changes)


class Org:
    """A populated directory with one CRM owner per person (and one unmapped owner)."""

    def __init__(self, session: Session, cfg: MetricsConfig, today: dt.date) -> None:
        self.session, self.cfg = session, cfg
        apply_directory(session, cfg, today=today)
        self.person: dict[str, int] = {}
        self.owner: dict[str, int] = {}
        for person in session.scalars(select(Person)):
            name = person.email.split("@")[0]
            user = CrmUser(source="demo", external_id=f"u-{name}", email=person.email)
            user.person_id = person.id
            session.add(user)
            session.flush()
            self.person[name], self.owner[name] = person.id, user.id
        ghost = CrmUser(source="demo", external_id="u-ghost", email="ghost@elsewhere.test")
        session.add(ghost)
        session.flush()
        self.owner["ghost"] = ghost.id

    def mark(self, owner: str, *times: dt.datetime | None) -> None:
        for when in times:
            if when is None:
                continue
            day = when.astimezone(dt.UTC).date()
            key = (self.owner[owner], day)
            if self.session.get(RollupDirty, key) is None:
                self.session.add(RollupDirty(crm_user_id=key[0], day=day))
        self.session.flush()

    def activity(self, owner: str, kind: str, when: dt.datetime, **fields: Any) -> Activity:
        n = next(_ids)
        activity = Activity(
            source="demo",
            external_id=f"a{n}",
            kind=kind,
            owner_id=self.owner[owner],
            occurred_at=when,
            modified_at=when,
            **fields,
        )
        self.session.add(activity)
        self.session.flush()
        self.mark(owner, when, fields.get("booked_at"))
        return activity

    def deal(
        self,
        owner: str,
        created: dt.datetime,
        *,
        amount: float | None = None,
        currency: str | None = "USD",
        closed: dt.datetime | None = None,
        won: bool = False,
        **fields: Any,
    ) -> Deal:
        n = next(_ids)
        deal = Deal(
            source="demo",
            external_id=f"d{n}",
            owner_id=self.owner[owner],
            amount=None if amount is None else Decimal(str(amount)),
            currency=currency,
            created_at=created,
            closed_at=closed,
            is_closed=closed is not None,
            is_won=won,
            modified_at=created,
            **fields,
        )
        self.session.add(deal)
        self.session.flush()
        self.mark(owner, created, closed)
        return deal


def snapshot(session: Session) -> dict[tuple[int, str, dt.date], tuple[float, str | None]]:
    return {
        (r.person_id, r.metric, r.day): (round(r.value, 6), r.team_key)
        for r in session.scalars(select(MetricDaily))
    }


def local(zone: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone).astimezone(dt.UTC)  # type: ignore[misc]
