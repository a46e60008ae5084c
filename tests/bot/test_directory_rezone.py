"""A Slack profile zone change re-places the person's rollups (unless config pins a zone)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.directory_sync import SlackUser, apply_users
from metrics.models import Person
from metrics.rollups import rebuild_rollups, refresh_rollups
from tests.metrics.builders import Org, config, snapshot
from tests.metrics.test_rezone import TODAY, _days, _history

NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def test_a_slack_profile_zone_change_moves_history_unless_config_pins_it(
    session: Session,
) -> None:
    cfg = config()
    org = Org(session, cfg, TODAY)
    _history(org)
    refresh_rollups(session, config=cfg)
    before = snapshot(session)
    users = [
        SlackUser(f"U{n}", email, "Asia/Tokyo")
        for n, email in enumerate(("dana@acme.test", "sam@acme.test"))
    ]
    report = apply_users(session, users, now=NOW)
    # Dana's zone is pinned in config (Chicago): only Sam (org default) moves.
    assert report.rezoned == 1
    sam = session.scalars(select(Person).where(Person.email == "sam@acme.test")).one()
    assert sam.slack_timezone == "Asia/Tokyo"
    refresh_rollups(session, config=cfg)
    assert snapshot(session) == before  # Sam has no records; Dana's did not move
    org.activity("sam", "call", dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC))
    refresh_rollups(session, config=cfg)
    assert _days(session, sam.id)["calls"] == [dt.date(2026, 11, 19)]  # 05:00 in Tokyo
    report = apply_users(session, [SlackUser("U1", "sam@acme.test", None)], now=NOW)
    assert report.rezoned == 1
    refresh_rollups(session, config=cfg)
    assert _days(session, sam.id)["calls"] == [dt.date(2026, 11, 18)]  # 15:00 in New York
    incremental = snapshot(session)
    rebuild_rollups(session, config=cfg)
    assert snapshot(session) == incremental
