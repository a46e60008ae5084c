from __future__ import annotations

import datetime as dt
import gc

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from metrics import rollup_scan, rollup_writes
from metrics import rollups as rollups_module
from metrics.catalog import CatalogError, build_catalog
from metrics.config import MetricConfig
from metrics.directory import apply_directory
from metrics.models import Activity, MetricDaily, RollupDirty
from metrics.rollup_scan import Directory, Scanner
from metrics.rollups import rebuild_rollups, refresh_rollups
from tests.metrics.builders import BERLIN, CHICAGO, Org, config, local, snapshot

TODAY = dt.date(2026, 11, 23)


def _value(session: Session, person: int, metric: str, day: dt.date) -> float:
    row = session.get(MetricDaily, (person, metric, day))
    return 0.0 if row is None else row.value


def test_dst_change_day_late_activity_counts_on_the_local_day(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, TODAY)
    # 2026-11-01: US clocks fall back at 02:00; 23:30 CST that evening is 05:30Z on Nov 2.
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 1, 23, 30))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 2, 0, 30))
    org.activity("dana", "call", local(CHICAGO, 2026, 10, 31, 23, 30))  # CDT, 04:30Z Nov 1
    # Berlin left summer time on 2026-10-25: 23:30 CET is 22:30Z the same day.
    org.activity("lee", "email", local(BERLIN, 2026, 10, 25, 23, 30))
    org.activity("lee", "email", local(BERLIN, 2026, 10, 26, 0, 15))  # 23:15Z on Oct 25
    result = refresh_rollups(session, config=cfg)
    dana, lee = org.person["dana"], org.person["lee"]
    assert _value(session, dana, "calls", dt.date(2026, 11, 1)) == 1
    assert _value(session, dana, "calls", dt.date(2026, 11, 2)) == 1
    assert _value(session, dana, "calls", dt.date(2026, 10, 31)) == 1
    assert _value(session, lee, "emails", dt.date(2026, 10, 25)) == 1
    assert _value(session, lee, "emails", dt.date(2026, 10, 26)) == 1
    assert result.dirty_processed == 3  # dana: Nov 1 and Nov 2 UTC; lee: Oct 25 UTC
    assert session.scalar(select(func.count()).select_from(RollupDirty)) == 0
    incremental = snapshot(session)
    rebuild_rollups(session, config=cfg)
    assert snapshot(session) == incremental


def test_builtin_bases_and_currency_conversion(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, TODAY)
    at = local(CHICAGO, 2026, 11, 17, 10, 0)
    org.activity("dana", "call", at, outcome="connected", duration_seconds=120)
    org.activity("dana", "call", at, outcome="no_answer", duration_seconds=60)
    org.activity("dana", "email", at, direction="outbound")
    org.activity("dana", "email", at, direction="inbound")  # not an outbound email
    booked = local(CHICAGO, 2026, 11, 16, 9, 0)
    org.activity("dana", "meeting", at, booked_at=booked, outcome="completed", subject="Demo")
    org.activity("dana", "meeting", at, booked_at=booked, outcome="no_show", subject="demo 2")
    org.activity("dana", "call", at, deleted=True)  # ignored
    org.activity("ghost", "call", at)  # owner maps to no person
    org.deal("dana", at, amount=1000, currency="EUR")
    org.deal("dana", at, amount=500, currency="GBP")  # no rate: excluded, not zero
    created = local(CHICAGO, 2026, 11, 7, 12, 0)
    org.deal("dana", created, amount=2000, closed=at, won=True)
    org.deal("dana", created, amount=None, closed=at, won=True)
    org.deal("dana", created, amount=300, closed=at, won=False)
    result = refresh_rollups(session, config=cfg)
    assert result.unmapped_records == 1  # the ghost owner's dirty day
    p, day = org.person["dana"], dt.date(2026, 11, 17)
    expected = {
        "calls": 2,
        "connected_calls": 1,
        "emails": 1,
        "meetings_held": 1,
        "demos_held": 1,
        "avg_call_minutes.sum": 180,
        "avg_call_minutes.n": 2,
        "opportunities_created": 2,
        "pipeline_created": 1100,
        "pipeline_created.excluded": 1,
        "deals_won": 2,
        "deals_lost": 1,
        "bookings": 2000,
        "bookings.n": 1,
        "bookings.excluded": 1,
        "sales_cycle_days.sum": 2 * (10 - 2 / 24),  # Nov 7 12:00 -> Nov 17 10:00, twice
    }
    for base, value in expected.items():
        assert _value(session, p, base, day) == pytest.approx(value), base
    assert _value(session, p, "meetings_booked", dt.date(2026, 11, 16)) == 2
    assert _value(session, p, "meetings_booked", day) == 0
    full = rebuild_rollups(session, config=cfg)
    assert full.unmapped_records == 1


def test_team_key_follows_membership_when_a_rep_moves(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, dt.date(2026, 11, 1))
    moved = config(
        people=tuple(
            p.model_copy(update={"team": "ae"}) if p.email == "dana@acme.test" else p
            for p in cfg.people
        )
    )
    from metrics.directory import apply_directory

    apply_directory(session, moved, today=dt.date(2026, 11, 10))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 9, 17, 0))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 10, 9, 0))
    refresh_rollups(session, config=moved)
    p = org.person["dana"]
    assert session.get(MetricDaily, (p, "calls", dt.date(2026, 11, 9))).team_key == "sdr"  # type: ignore[union-attr]
    assert session.get(MetricDaily, (p, "calls", dt.date(2026, 11, 10))).team_key == "ae"  # type: ignore[union-attr]


def test_incremental_refresh_touches_only_dirty_days(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, TODAY)
    first = org.activity("dana", "call", local(CHICAGO, 2026, 11, 16, 10, 0))
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 18, 10, 0))
    refresh_rollups(session, config=cfg)
    # Tamper with an untouched day: an incremental refresh must leave it alone.
    untouched = session.get(MetricDaily, (org.person["dana"], "calls", dt.date(2026, 11, 18)))
    assert untouched is not None
    untouched.value = 99
    old = first.occurred_at
    first.occurred_at = local(CHICAGO, 2026, 11, 17, 10, 0)
    org.mark("dana", old, first.occurred_at)
    result = refresh_rollups(session, config=cfg)
    p = org.person["dana"]
    assert _value(session, p, "calls", dt.date(2026, 11, 16)) == 0
    assert _value(session, p, "calls", dt.date(2026, 11, 17)) == 1
    assert _value(session, p, "calls", dt.date(2026, 11, 18)) == 99
    assert result.person_days <= 4  # each UTC day overlaps at most two local days
    assert refresh_rollups(session, config=cfg).dirty_processed == 0


def test_custom_metric_definitions_are_checked() -> None:
    bad_field = config(
        metrics=(
            MetricConfig(name="x", kind="input", source="activities", filter={"colour": "red"}),
        )
    )
    with pytest.raises(CatalogError, match="colour"):
        build_catalog(bad_field)
    ratio_of_ratio = config(
        metrics=(
            MetricConfig(name="odd", source="ratio", numerator="win_rate", denominator="calls"),
        )
    )
    with pytest.raises(CatalogError, match="ratio"):
        build_catalog(ratio_of_ratio)


def test_activity_count_sanity(session: Session) -> None:
    cfg = config()
    org = Org(session, cfg, TODAY)
    for hour in range(9, 14):
        org.activity("sam", "call", dt.datetime(2026, 11, 17, hour, tzinfo=dt.UTC))
    refresh_rollups(session, config=cfg)
    total = session.scalar(select(func.sum(MetricDaily.value)).where(MetricDaily.metric == "calls"))
    assert total == session.scalar(
        select(func.count()).select_from(Activity).where(Activity.kind == "call")
    )


def test_incremental_window_bounds_are_exact_at_local_midnight(session: Session) -> None:
    """The incremental scan reads [local midnight, next local midnight) in UTC with literal
    bounds in the stored format: a record at midnight exactly is the new day's, one a
    microsecond earlier the old day's, on both engines."""
    cfg = config()
    org = Org(session, cfg, TODAY)
    midnight = local(CHICAGO, 2026, 11, 18, 0, 0)
    org.activity("dana", "call", midnight)
    org.activity("dana", "call", midnight - dt.timedelta(microseconds=1))
    org.activity("dana", "call", midnight + dt.timedelta(days=1, microseconds=-1))
    org.activity("dana", "call", midnight + dt.timedelta(days=1))
    refresh_rollups(session, config=cfg)
    dana = org.person["dana"]
    days = [dt.date(2026, 11, d) for d in (17, 18, 19)]
    assert [_value(session, dana, "calls", d) for d in days] == [1, 2, 1]
    incremental = snapshot(session)
    rebuild_rollups(session, config=cfg)
    assert snapshot(session) == incremental


def test_scan_takes_a_whole_window_or_nothing(session: Session) -> None:
    cfg = config()
    scanner = Scanner(session, build_catalog(cfg), Directory(session, cfg), None)
    with pytest.raises(ValueError, match="owners, lo and hi"):
        scanner.scan(owners=[1], lo=None, hi=None)


def test_an_incremental_refresh_writes_only_the_rows_that_changed(session: Session) -> None:
    """Recomputed pairs whose rows came out the same are not rewritten: marking days dirty
    again writes nothing; one more call rewrites one row; a base that drops to zero loses
    its row; the result equals a full rebuild throughout."""
    cfg = config()
    org = Org(session, cfg, TODAY)
    monday = local(CHICAGO, 2026, 11, 16, 10, 0)
    org.activity("dana", "call", monday)
    org.activity("dana", "call", monday + dt.timedelta(days=1))
    email = org.activity("dana", "email", monday + dt.timedelta(days=1), direction="outbound")
    first = refresh_rollups(session, config=cfg)
    assert first.rows_written == 3  # calls on Monday and Tuesday, emails on Tuesday
    before = snapshot(session)

    org.mark("dana", monday, monday + dt.timedelta(days=1))  # nothing changed
    again = refresh_rollups(session, config=cfg)
    assert (again.person_days, again.rows_written) == (first.person_days, 0)
    assert snapshot(session) == before

    org.activity("dana", "call", monday + dt.timedelta(hours=1))
    one = refresh_rollups(session, config=cfg)
    assert one.rows_written == 1
    dana = org.person["dana"]
    assert _value(session, dana, "calls", dt.date(2026, 11, 16)) == 2

    email.deleted = True
    org.mark("dana", email.occurred_at)
    refresh_rollups(session, config=cfg)
    assert _value(session, dana, "emails", dt.date(2026, 11, 17)) == 0
    assert session.get(MetricDaily, (dana, "emails", dt.date(2026, 11, 17))) is None
    incremental = snapshot(session)
    rebuild_rollups(session, config=cfg)
    assert snapshot(session) == incremental


@pytest.mark.parametrize("share", [0, 10**6], ids=["by person", "by team"])
def test_current_rows_are_read_alike_by_person_and_by_team(
    session: Session, monkeypatch: pytest.MonkeyPatch, share: int
) -> None:
    """The rows an incremental refresh compares against come from primary-key ranges per
    person, or (most people dirty) from every team's index range plus the rows without a
    team, kept if their (person, day) is a pair: the same rows either way — a rep who moved
    team, rows without a team, days and people outside the pairs left out."""
    cfg = config()
    org = Org(session, cfg, dt.date(2026, 11, 1))
    for day in (9, 10, 11):
        for name in ("dana", "lee", "sam"):
            org.activity(name, "call", local(CHICAGO, 2026, 11, day, 12, 0))
        org.activity("dana", "email", local(CHICAGO, 2026, 11, day, 13, 0), direction="outbound")
    moved = config(
        people=tuple(
            p.model_copy(update={"team": "ae"}) if p.email == "dana@acme.test" else p
            for p in cfg.people
        )
    )
    apply_directory(session, moved, today=dt.date(2026, 11, 10))
    refresh_rollups(session, config=moved)
    lee = org.person["lee"]
    session.execute(update(MetricDaily).where(MetricDaily.person_id == lee).values(team_key=None))
    dana, sam = org.person["dana"], org.person["sam"]
    pairs = sorted({(dana, dt.date(2026, 11, d)) for d in (9, 10)} | {(lee, dt.date(2026, 11, 10))})
    sqlite = session.connection().dialect.name == "sqlite"
    stored = {(p, d.isoformat() if sqlite else d) for p, d in pairs}
    expected = {
        (r.person_id, r.metric, r.day.isoformat() if sqlite else r.day): (r.value, r.team_key)
        for r in session.scalars(select(MetricDaily))
        if (r.person_id, r.day) in set(pairs) and r.metric in ("calls", "emails")
    }
    assert {(p, m) for p, m, _ in expected} == {
        (dana, "calls"),
        (dana, "emails"),
        (lee, "calls"),
    }
    assert {t for _, t in expected.values()} == {"sdr", "ae", None}
    assert sam not in {p for p, _ in pairs}
    monkeypatch.setattr(rollup_writes, "BY_TEAM_SHARE", share)
    found = rollup_writes._current(session.connection(), pairs, ["calls", "emails"], sqlite=sqlite)
    assert found == expected
    assert {(p, d) for p, _, d in found} == stored


def test_a_window_of_most_owners_is_read_by_time(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When most owners are dirty, activities by occurred_at are read for every owner by
    time alone (one statement over `ix_activities_occurred`) and the scan keeps its pairs:
    the sums equal those read owner by owner, other owners' and owner-less records left out."""
    cfg = config()
    org = Org(session, cfg, TODAY)
    monday = local(CHICAGO, 2026, 11, 16, 10, 0)
    for hours in (0, 5, 30, 50):
        for name in ("dana", "lee", "sam", "ghost"):
            org.activity(name, "call", monday + dt.timedelta(hours=hours))
    org.activity("dana", "email", monday, direction="outbound")
    org.activity("dana", "call", monday + dt.timedelta(hours=1), deleted=True)
    catalog = build_catalog(cfg)
    directory = Directory(session, cfg)  # everyone
    dana, lee = org.person["dana"], org.person["lee"]
    keep = {(dana, dt.date(2026, 11, 16)), (dana, dt.date(2026, 11, 17)), (lee, TODAY)}
    owners = sorted({org.owner["dana"], org.owner["lee"]})
    lo, hi = monday - dt.timedelta(days=1), monday + dt.timedelta(days=3)
    statements: list[str] = []
    read = Scanner._driver_rows

    def spy(self: Scanner, sql: str) -> object:
        statements.append(sql)
        return read(self, sql)

    monkeypatch.setattr(Scanner, "_driver_rows", spy)
    by_time = Scanner(session, catalog, directory, set(keep))
    by_time.scan(owners=owners, lo=lo, hi=hi)
    timed = [s for s in statements if "FROM activities" in s and "occurred_at >=" in s]
    assert len(timed) == 1 and "owner_id IN" not in timed[0]  # 2 of 3 owners with people
    monkeypatch.setattr(rollup_scan, "TIME_INDEXED", frozenset())
    statements.clear()
    by_owner = Scanner(session, catalog, directory, set(keep))
    by_owner.scan(owners=owners, lo=lo, hi=hi)
    assert all("owner_id IN" in s for s in statements)
    assert by_time.values == by_owner.values
    assert by_time.values[(dana, dt.date(2026, 11, 16))] == {"calls": 2.0, "emails": 1.0}
    assert {p for p, _ in by_time.values} == {dana}  # lee's calls fall on other days


def test_rollups_pause_the_cyclic_collector_and_restore_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is off while a refresh runs and as it was afterwards: back on after a
    refresh, also one that fails, and still off if the caller had paused it."""
    cfg = config()
    org = Org(session, cfg, TODAY)
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 16, 10, 0))
    seen: list[bool] = []
    write = rollups_module.write_changes

    def spy(*args: object, **kwargs: object) -> tuple[int, int]:
        seen.append(gc.isenabled())
        return write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rollups_module, "write_changes", spy)
    assert gc.isenabled()
    refresh_rollups(session, config=cfg)
    assert seen == [False] and gc.isenabled()

    def fail(*args: object, **kwargs: object) -> tuple[int, int]:
        raise RuntimeError("boom")

    monkeypatch.setattr(rollups_module, "write_changes", fail)
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 17, 10, 0))
    with pytest.raises(RuntimeError, match="boom"):
        refresh_rollups(session, config=cfg)
    assert gc.isenabled()
    monkeypatch.setattr(rollups_module, "write_changes", write)
    gc.disable()
    try:
        refresh_rollups(session, config=cfg)
        assert not gc.isenabled()
    finally:
        gc.enable()
