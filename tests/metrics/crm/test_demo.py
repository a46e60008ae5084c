from __future__ import annotations

import datetime as dt
import statistics
import tomllib
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.demo import DemoConnector
from metrics.crm.demo_org import build_org, org_toml
from metrics.crm.engine import sync_source
from metrics.crm.records import MEETING_OUTCOMES, Cursor
from metrics.models import Activity, Deal
from rhythms.config import parse_org_config
from tests.metrics.crm.helpers import dirty_days, expected_dirty, stored

END = dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC)


def pull(conn: DemoConnector, what: str, cursor: Cursor | None = None) -> tuple[list[Any], Cursor]:
    out: list[Any] = []
    cursor = cursor or Cursor()
    for page in getattr(conn, what)(cursor):
        out.extend(page.records)
        cursor = page.cursor
    return out, cursor


def test_same_seed_same_data_and_other_seed_differs() -> None:
    a, _ = pull(DemoConnector.for_reps(12, seed=3, end=END, months=2), "activities")
    b, _ = pull(DemoConnector.for_reps(12, seed=3, end=END, months=2), "activities")
    c, _ = pull(DemoConnector.for_reps(12, seed=4, end=END, months=2), "activities")
    assert a == b and len(a) > 1000
    assert a != c
    assert (
        pull(DemoConnector.for_reps(12, seed=3, end=END), "deals")[0]
        == pull(DemoConnector.for_reps(12, seed=3, end=END), "deals")[0]
    )


def test_org_shape_and_config_is_valid() -> None:
    org = build_org(40, seed=1)
    roles = Counter(p.role for p in org.people)
    assert roles["rep"] == 40 and roles["exec"] == 1 and roles["admin"] == 1
    assert roles["manager"] == len(org.teams) >= 3
    assert {t.function for t in org.teams} == {"sdr", "ae", "cs"}
    assert len({p.timezone for p in org.people}) >= 3
    perf = [p.performance for p in org.reps]
    assert min(perf) < 0.85 < 1.15 < max(perf)  # some behind, some ahead
    cfg = parse_org_config(tomllib.loads(org_toml(org)), "demo")
    assert len(cfg.people) == len(org.people)
    assert cfg.metric("calls") is not None
    assert build_org(10_000, seed=1).reps[-1].email.endswith("@northwind.example")


def test_activity_and_funnel_shape() -> None:
    conn = DemoConnector.for_reps(30, seed=11, end=END, months=6)
    acts, _ = pull(conn, "activities")
    deals, _ = pull(conn, "deals")
    assert {a.kind for a in acts} == {"call", "email", "meeting", "task"}
    zones = {p.owner_id: ZoneInfo(p.timezone) for p in conn.org.people}
    by_weekday = Counter(
        a.occurred_at.astimezone(zones[a.owner_external_id]).weekday()
        for a in acts
        if a.kind == "call"
    )
    assert by_weekday[5] == by_weekday[6] == 0
    assert by_weekday[4] < by_weekday[1]  # Friday is lighter than Tuesday
    meetings = [a for a in acts if a.kind == "meeting"]
    assert all(m.booked_at is not None and m.booked_at < m.occurred_at for m in meetings)
    assert {m.outcome for m in meetings} <= MEETING_OUTCOMES
    assert {m.outcome for m in meetings if m.occurred_at > END} <= {"scheduled", "cancelled"}
    calls = [a for a in acts if a.kind == "call"]
    connected = sum(a.outcome == "connected" for a in calls) / len(calls)
    assert 0.1 < connected < 0.25
    assert all(a.occurred_at <= END and a.modified_at <= END for a in acts if a.kind != "meeting")
    closed = [d for d in deals if d.is_closed and d.deal_type == "new"]
    win_rate = sum(d.is_won for d in closed) / len(closed)
    assert 0.12 < win_rate < 0.45
    assert any(d.amount is None for d in deals) and any(not d.is_closed for d in deals)
    won = [d for d in closed if d.is_won]
    cycle = statistics.median((d.closed_at - d.created_at).days for d in won)  # type: ignore[operator]
    assert 20 < cycle < 90
    assert all(d.stage_history and d.stage_history[-1].stage == d.stage for d in deals)
    per_rep = Counter(a.owner_external_id for a in calls)
    sdr = [per_rep[p.owner_id] for p in conn.org.reps if p.function == "sdr"]
    assert max(sdr) > 1.4 * min(sdr)


def test_extending_end_yields_exactly_the_changes() -> None:
    end1, end2 = END - dt.timedelta(days=3), END
    first = DemoConnector.for_reps(8, seed=5, end=end1, months=2)
    acts1, cursor = pull(first, "activities")
    deals1, dcursor = pull(first, "deals")
    later = DemoConnector.for_reps(8, seed=5, end=end2, months=2)
    acts2, _ = pull(later, "activities", cursor)
    deals2, _ = pull(later, "deals", dcursor)
    assert acts2 and all(a.modified_at > end1 for a in acts2)
    merged = {a.external_id: a for a in acts1} | {a.external_id: a for a in acts2}
    full = {
        a.external_id: a
        for a in pull(DemoConnector.for_reps(8, seed=5, end=end2, months=2), "activities")[0]
    }
    first_day = min(int(k.split("-")[0]) for k in full)  # ids start with the day's ordinal
    assert {k: v for k, v in merged.items() if int(k.split("-")[0]) >= first_day} == full
    merged_deals = {d.external_id: d for d in deals1} | {d.external_id: d for d in deals2}
    full_deals = {d.external_id: d for d in pull(later, "deals")[0]}
    first_created = min(d.created_at for d in full_deals.values())
    assert {k: d for k, d in merged_deals.items() if d.created_at >= first_created} == full_deals
    assert deals2 and all(d.modified_at > end1 for d in deals2)


def test_demo_loads_into_the_store(session_factory: sessionmaker[Session]) -> None:
    conn = DemoConnector.for_reps(10, seed=2, end=END, months=2)
    conn.page_size = 500
    report = sync_source(conn, session_factory=session_factory, clock=TravellingClock(END))
    assert report.ok, report.error
    acts = stored(session_factory, Activity, "demo")
    assert len(acts) == report.objects["activities"].new == len(pull(conn, "activities")[0])
    assert len(stored(session_factory, Deal, "demo")) == report.objects["deals"].new
    assert report.objects["activities"].pages > 3
    assert dirty_days(session_factory) == expected_dirty(session_factory, "demo")
    again = sync_source(conn, session_factory=session_factory, clock=TravellingClock(END))
    assert again.ok and again.objects["activities"].fetched == 0
