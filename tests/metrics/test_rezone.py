"""A person whose time zone changes gets their history re-placed on their new local days."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import MetricDaily
from metrics.rollups import rebuild_rollups, refresh_rollups
from tests.metrics.builders import CHICAGO, Org, config, local, snapshot

TODAY = dt.date(2026, 11, 23)


def _days(session: Session, person: int) -> dict[str, list[dt.date]]:
    out: dict[str, list[dt.date]] = {}
    for row in session.scalars(
        select(MetricDaily).where(MetricDaily.person_id == person).order_by(MetricDaily.day)
    ):
        out.setdefault(row.metric, []).append(row.day)
    return out


def _history(org: Org) -> None:
    """Calls late in Chicago's evening (next UTC day), across the US DST change, and an
    isolated one whose neighbouring UTC days hold nothing else."""
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 1, 23, 30))  # fall-back day
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 16, 22, 0))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 17, 9, 0))
    org.activity("dana", "call", local(CHICAGO, 2026, 10, 5, 20, 0))  # alone in early Oct
    org.deal("dana", local(CHICAGO, 2026, 11, 10, 21, 0), amount=500)


def test_a_config_zone_change_moves_history_to_the_new_local_days(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, TODAY)
    _history(org)
    refresh_rollups(session, config=cfg)
    dana = org.person["dana"]
    assert _days(session, dana)["calls"][0] == dt.date(2026, 10, 5)
    people = tuple(
        p.model_copy(update={"timezone": "Asia/Tokyo"}) if p.email.startswith("dana") else p
        for p in cfg.people
    )
    moved = cfg.model_copy(update={"people": people})
    changes = apply_directory(session, moved, today=TODAY)
    assert changes.rezoned == 1
    refresh_rollups(session, config=moved)
    # 20:00 in Chicago on Oct 5 is 10:00 on Oct 6 in Tokyo; 23:30 on Nov 1 is Nov 2 15:30.
    calls = _days(session, dana)["calls"]
    assert calls[0] == dt.date(2026, 10, 6)
    assert dt.date(2026, 11, 2) in calls and dt.date(2026, 11, 1) not in calls
    incremental = snapshot(session)
    rebuild_rollups(session, config=moved)
    assert snapshot(session) == incremental
    assert apply_directory(session, moved, today=TODAY).rezoned == 0  # nothing moved twice
