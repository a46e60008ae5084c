"""The in-database rollup path (`metrics.rollup_sql`) against the Python scan, on both
engines: the same rows, teams and unmapped counts, at the time-zone and team edges."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from metrics import rollup_sql
from metrics.catalog import Base, build_catalog
from metrics.config import MetricConfig, MetricsConfig, PersonConfig
from metrics.directory import apply_directory
from metrics.models import MetricDaily
from metrics.rollup_scan import Directory
from metrics.rollup_zones import local_day_sql, team_pieces, transitions
from metrics.rollups import _record_kinds, rebuild_rollups, refresh_rollups
from tests.metrics.builders import BERLIN, CHICAGO, Org, config, local, snapshot

KOLKATA = ZoneInfo("Asia/Kolkata")


def _config() -> MetricsConfig:
    base = config()
    raj = PersonConfig(
        email="raj@acme.test", name="Raj", role="rep", team="ae", timezone="Asia/Kolkata"
    )
    kai = PersonConfig(email="kai@acme.test", name="Kai", role="rep", timezone="Europe/Berlin")
    extra = MetricConfig(
        name="inbound_emails",
        kind="input",
        source="activities",
        filter={"kind": "email", "direction": "inbound"},
    )
    won_eur = MetricConfig(
        name="eur_bookings",
        kind="output",
        unit="currency",
        source="deals",
        date_field="closed_at",
        filter={"currency": "EUR", "is_won": True},
        aggregation="sum",
        value_field="amount",
    )
    return base.model_copy(
        update={"people": (*base.people, raj, kai), "metrics": (*base.metrics, extra, won_eur)}
    )


def _populate(session: Session, cfg: MetricsConfig) -> Org:
    org = Org(session, cfg, dt.date(2026, 10, 1))
    # US fall-back night: 23:30 CST on Nov 1 is 05:30Z on Nov 2; 00:30 the next day.
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 1, 23, 30), outcome="connected")
    org.activity("dana", "call", local(CHICAGO, 2026, 11, 2, 0, 30), duration_seconds=95)
    org.activity("dana", "call", local(CHICAGO, 2026, 10, 31, 23, 30), duration_seconds=0)
    org.activity("dana", "email", local(CHICAGO, 2026, 11, 1, 1, 30), direction="inbound")
    org.activity("dana", "email", local(CHICAGO, 2026, 11, 1, 1, 30, 0), direction="outbound")
    # The last fraction of a second of a local day (SQLite rounds fractions to ms).
    org.activity("dana", "call", dt.datetime(2026, 11, 3, 5, 59, 59, 999_900, tzinfo=dt.UTC))
    # Berlin left summer time on Oct 25: 23:30 CET is 22:30Z the same day.
    org.activity("lee", "email", local(BERLIN, 2026, 10, 25, 23, 30))
    org.activity("lee", "email", local(BERLIN, 2026, 10, 26, 0, 15))
    # Half-hour zone: 00:10 IST on Nov 5 is 18:40Z on Nov 4.
    org.activity("raj", "call", local(KOLKATA, 2026, 11, 5, 0, 10))
    org.activity("raj", "call", local(KOLKATA, 2026, 11, 4, 23, 50))
    booked = local(KOLKATA, 2026, 11, 2, 23, 45)
    org.activity(
        "raj",
        "meeting",
        local(KOLKATA, 2026, 11, 6, 10, 0),
        booked_at=booked,
        outcome="completed",
        subject="Demo call",
    )
    org.activity("kai", "call", local(BERLIN, 2026, 11, 4, 9, 0))  # on no team
    org.activity("sam", "call", local(CHICAGO, 2026, 11, 4, 12, 0), deleted=True)
    org.activity("ghost", "call", local(CHICAGO, 2026, 11, 4, 12, 0))  # unmapped owner
    org.activity("ghost", "email", local(CHICAGO, 2026, 11, 4, 13, 0))
    created = local(CHICAGO, 2026, 10, 20, 9, 0)
    org.deal(
        "dana",
        created,
        amount=1000,
        currency="EUR",
        closed=local(CHICAGO, 2026, 11, 1, 23, 0),
        won=True,
    )
    org.deal("dana", created, amount=500, currency="GBP")  # no rate: excluded
    org.deal("lee", created, amount=250.5, closed=local(BERLIN, 2026, 10, 25, 23, 59), won=False)
    org.deal("ghost", created, amount=10)
    return org


def _move_dana(session: Session, cfg: MetricsConfig) -> MetricsConfig:
    moved = cfg.model_copy(
        update={
            "people": tuple(
                p.model_copy(update={"team": "ae"}) if p.email == "dana@acme.test" else p
                for p in cfg.people
            )
        }
    )
    apply_directory(session, moved, today=dt.date(2026, 11, 2))  # moves at local midnight
    return moved


@pytest.mark.parametrize("limit", [rollup_sql.MAX_SIGNATURES, 1])
def test_rebuild_in_database_equals_python_scan(
    session: Session, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """With limit 1 every record kind with more than one signature falls back to the
    Python scan inside the in-database rebuild."""
    monkeypatch.setattr(rollup_sql, "MAX_SIGNATURES", limit)
    cfg = _config()
    org = _populate(session, cfg)
    cfg = _move_dana(session, cfg)
    python = rebuild_rollups(session, config=cfg, sql=False)
    expected = snapshot(session)
    in_db = rebuild_rollups(session, config=cfg)
    assert snapshot(session) == expected
    assert (in_db.rows_written, in_db.unmapped_records) == (
        python.rows_written,
        python.unmapped_records,
    )
    assert in_db.unmapped_records == 3  # the ghost's call, email and deal
    dana, raj = org.person["dana"], org.person["raj"]
    assert expected[(dana, "calls", dt.date(2026, 11, 1))] == (1.0, "sdr")  # before the move
    assert expected[(dana, "calls", dt.date(2026, 11, 2))] == (2.0, "ae")  # 00:30 + 23:59:59.99
    assert (raj, "calls", dt.date(2026, 11, 4)) in expected
    assert expected[(org.person["kai"], "calls", dt.date(2026, 11, 4))] == (1.0, None)
    assert expected[(raj, "calls", dt.date(2026, 11, 5))][0] == 1.0
    assert expected[(raj, "meetings_booked", dt.date(2026, 11, 2))][0] == 1.0
    assert expected[(dana, "inbound_emails", dt.date(2026, 11, 1))][0] == 1.0
    assert expected[(dana, "eur_bookings", dt.date(2026, 11, 1))][0] == pytest.approx(1100.0)


def test_incremental_refreshes_equal_the_in_database_rebuild(session: Session) -> None:
    cfg = _config()
    org = _populate(session, cfg)
    first = refresh_rollups(session, config=cfg)
    assert first.unmapped_records == 2  # the ghost's dirty owner-days (Nov 4 UTC, Oct 20)
    cfg = _move_dana(session, cfg)
    late = org.activity("dana", "call", local(CHICAGO, 2026, 11, 2, 23, 30))
    org.activity("lee", "call", local(BERLIN, 2026, 10, 25, 0, 30))
    late.deleted = True
    session.flush()
    refresh_rollups(session, config=cfg)
    incremental = snapshot(session)
    assert rebuild_rollups(session, config=cfg).unmapped_records == 3
    assert snapshot(session) == incremental


def _amount_config() -> MetricsConfig:
    cfg = _config()
    summed = MetricConfig(
        name="eur_pipeline",
        kind="output",
        unit="currency",
        source="deals",
        filter={"currency": "EUR"},
        aggregation="sum",
        value_field="amount",
    )
    exact = MetricConfig(  # its filter reads the amount: closed deals keep amounts as values
        name="round_deals",
        kind="output",
        source="deals",
        date_field="closed_at",
        filter={"amount": 1000},
    )
    return cfg.model_copy(update={"metrics": (*cfg.metrics, summed, exact)})


def test_amounts_and_cycle_times_roll_up_in_the_database(session: Session) -> None:
    """Deals with every amount different, in three currencies (one without a rate), and
    cycle times to the microsecond: their record kinds still have a handful of signatures
    (amounts and instants grouped by being NULL, their values multiplied in per record by
    SQL), so no kind falls back to Python, and the rows equal the Python scan's — but for
    a custom metric whose filter reads the amount, which keeps it as it is."""
    cfg = _amount_config()
    org = Org(session, cfg, dt.date(2026, 10, 1))
    start = dt.datetime(2026, 10, 1, 14, 0, 0, 123_456, tzinfo=dt.UTC)
    for i in range(40):
        created = start + dt.timedelta(days=i % 9, hours=i, microseconds=7 * i)
        closed = created + dt.timedelta(days=i % 5, seconds=37 * i, microseconds=999_999 - i)
        org.deal(
            ("dana", "lee", "raj")[i % 3],
            created,
            amount=None if i % 11 == 0 else 1000 + 17.25 * i,
            currency=("USD", "EUR", "GBP")[i % 3],
            closed=None if i % 4 == 0 else (created if i % 7 == 0 else closed),
            won=i % 2 == 0,
        )
    org.deal("sam", start, amount=1000, closed=start - dt.timedelta(hours=3), won=True)
    python = rebuild_rollups(session, config=cfg, sql=False)
    expected = _exact(session)
    steps: list[str] = []
    in_db = rebuild_rollups(session, config=cfg, progress=steps.append)
    assert not [s for s in steps if "in Python" in s], steps
    # each source's primary kind first (the progress lines; PostgreSQL's staged parts)
    assert next(s for s in steps if "(in the database)" in s).startswith("activities by occurred")
    found = _exact(session)
    assert found.keys() == expected.keys()
    # equal up to the order of summing (~1e-16); a microsecond of a cycle would be ~1e-11
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, rel=1e-13, abs=0), key
    assert in_db.rows_written == python.rows_written
    names = {m for _, m, _ in expected}
    assert {"bookings", "pipeline_created", "sales_cycle_days.sum", "eur_pipeline"} <= names
    assert "round_deals" in names
    sam, closed = org.person["sam"], (start - dt.timedelta(hours=3)).date()
    assert expected[(sam, "deals_won", closed)] == 1.0
    assert (sam, "sales_cycle_days.sum", closed) not in expected  # closed before created: 0


def test_sqlite_rolls_every_kind_up_in_one_statement_in_key_order(
    session: Session, engine_name: str
) -> None:
    """SQLite: every record kind in one SELECT whose rows come in the primary key's order
    (so the rebuild appends them), the same rows as each kind on its own; meetings booked
    are read from the partial index alone."""
    if engine_name != "sqlite":
        pytest.skip("the merged statement is SQLite's")
    cfg = _amount_config()
    org = _populate(session, cfg)
    org.deal(
        "lee",
        local(BERLIN, 2026, 10, 2, 9, 0),
        amount=75,
        closed=local(BERLIN, 2026, 10, 3, 9, 0),
        won=True,
    )
    session.flush()
    catalog = build_catalog(cfg)
    work = rollup_sql.SqlRollups(session, catalog, Directory(session, cfg))
    conn = session.connection()
    try:
        kinds = [(s, f, catalog.bases_for(s, f)) for s, f in _record_kinds(catalog)]
        names = sorted(b.name for _, _, bases in kinds for b in bases)
        merged = work.merged(kinds, names)
        assert merged is not None
        query, covered = merged
        assert covered == [(s, f) for s, f, _ in kinds]  # all four kinds
        rows = conn.exec_driver_sql(query).all()
        keys = [(r[0], r[1], r[2]) for r in rows]
        assert keys == sorted(keys)  # primary-key order: appended, never inserted among rows
        alone = []
        for source, date_field, bases in kinds:
            one = work.aggregate(source, date_field, bases)
            assert one is not None
            alone += conn.exec_driver_sql(one).all()
        assert sorted(rows) == sorted(alone)
        assert {r[1] for r in rows} >= {"calls", "meetings_booked", "pipeline_created", "bookings"}
        booked = work.aggregate(
            "activities", "booked_at", catalog.bases_for("activities", "booked_at")
        )
        plan = " | ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {booked}"))
        assert "COVERING INDEX ix_activities_booked" in plan, plan
    finally:
        work.close()
    session.rollback()


def _exact(session: Session) -> dict[tuple[int, str, dt.date], float]:
    return {(r.person_id, r.metric, r.day): r.value for r in session.scalars(select(MetricDaily))}


def test_a_base_that_reads_more_than_it_declares_falls_back_to_python(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """The stand-in check: a base declaring it reads the amount only for being NULL, while
    it compares its value, is caught on the signatures and its record kind is rolled up in
    Python — same rows as a Python scan."""
    cfg = _config()
    org = Org(session, cfg, dt.date(2026, 10, 1))
    org.deal("dana", local(CHICAGO, 2026, 10, 20, 9, 0), amount=900)
    org.deal("dana", local(CHICAGO, 2026, 10, 21, 9, 0), amount=1.5)
    catalog = build_catalog(cfg)
    liar = Base(
        "big_deals",
        "deals",
        "created_at",
        lambda r: 1.0 if (r["amount"] or 0) > 1.5 else None,
        ("amount",),
        nullness=("amount",),
    )
    catalog.bases[liar.name] = liar
    python = rebuild_rollups(session, config=cfg, catalog=catalog, sql=False)
    expected = snapshot(session)
    steps: list[str] = []
    rebuild_rollups(session, config=cfg, catalog=catalog, progress=steps.append)
    assert "deals by created_at (in Python)" in steps[-2]
    assert "does not read its fields as declared" in caplog.text
    assert snapshot(session) == expected
    dana = org.person["dana"]
    assert expected[(dana, "big_deals", dt.date(2026, 10, 20))][0] == 1.0
    assert (dana, "big_deals", dt.date(2026, 10, 21)) not in expected
    assert python.rows_written == len(expected)


def test_zone_transitions_and_team_pieces() -> None:
    instants, offsets = transitions("America/Chicago")
    fall_back = int(dt.datetime(2026, 11, 1, 7, tzinfo=dt.UTC).timestamp())
    i = instants.index(fall_back)
    assert (offsets[i], offsets[i + 1]) == (-5 * 3600, -6 * 3600)
    assert transitions("Asia/Kolkata") == ((), (19800,))
    spans = [
        (dt.date(1970, 1, 1), dt.date(2026, 11, 2), "sdr"),
        (dt.date(2026, 11, 2), None, "ae"),
    ]
    assert team_pieces(spans) == [(dt.date.min, "sdr"), (dt.date(2026, 11, 2), "ae")]
    assert team_pieces([(dt.date(1970, 1, 1), None, "sdr")]) == [(dt.date.min, "sdr")]
    gap: list[tuple[dt.date, dt.date | None, str]] = [
        (dt.date(2026, 1, 1), dt.date(2026, 2, 1), "a")
    ]
    assert team_pieces(gap) == [
        (dt.date.min, None),
        (dt.date(2026, 1, 1), "a"),
        (dt.date(2026, 2, 1), None),
    ]


def test_local_days_trimmed_to_the_records_span_match_zoneinfo(session: Session) -> None:
    """With the records' span given, each zone's offset search keeps only the transitions
    inside it; instants inside get the same local day as zoneinfo says, and so do instants
    outside it (a record written after the span was read: the full search), across DST
    changes on both sides, in a half-hour zone and one with a 30-minute DST shift."""
    sqlite = session.connection().dialect.name == "sqlite"
    zones = ["America/Chicago", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Berlin"]
    span = (
        dt.datetime(2026, 10, 20, 12, 0, 0, 250_000, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 10, 3, 0, 0, 750_000, tzinfo=dt.UTC),
    )
    trimmed = local_day_sql("t.ts", "t.z", zones, sqlite=sqlite, within=span)
    full = local_day_sql("t.ts", "t.z", zones, sqlite=sqlite)
    assert len(trimmed) < 2 * len(full)  # the full search once, plus a short one
    instants = [
        span[0],
        span[1],
        span[0] - dt.timedelta(microseconds=1),
        span[1] + dt.timedelta(seconds=1),
        dt.datetime(2026, 10, 25, 0, 59, 59, tzinfo=dt.UTC),  # Berlin: CEST -> CET at 01:00Z
        dt.datetime(2026, 10, 25, 1, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 6, 59, 59, 999_999, tzinfo=dt.UTC),  # Chicago falls back
        dt.datetime(2026, 11, 1, 7, 0, 0, tzinfo=dt.UTC),
        # Outside the span, where its edge offsets would put local times across midnight:
        dt.datetime(2026, 2, 1, 5, 30, tzinfo=dt.UTC),  # Chicago: CST, not the span's CDT
        dt.datetime(2027, 7, 1, 5, 30, tzinfo=dt.UTC),  # Chicago: CDT, not the span's CST
        dt.datetime(2026, 1, 10, 22, 30, tzinfo=dt.UTC),  # Berlin: CET, not CEST
        dt.datetime(2026, 9, 1, 13, 15, tzinfo=dt.UTC),  # Lord Howe: +10:30, not +11
    ]
    checked = 0
    conn = session.connection()
    for when in instants:
        for i, name in enumerate(zones):
            stored: object = when.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else when
            mark = "?" if sqlite else "%s"
            cast = "" if sqlite else "::timestamptz"
            sql = f"SELECT {trimmed}, {full} FROM (SELECT {mark}{cast} AS ts, {i} AS z) t"
            got, reference = conn.exec_driver_sql(sql, (stored,)).one()
            expected = when.astimezone(ZoneInfo(name)).date()
            assert str(got) == str(reference) == expected.isoformat(), (when, name)
            checked += 1
    assert checked == len(instants) * len(zones)


def test_a_rolled_back_rebuild_leaves_rollups_and_indexes_as_they_were(
    session: Session,
) -> None:
    """The SQLite rebuild drops and recreates the team index; rolled back, nothing of it
    may stick (a DROP INDEX before the transaction opens would commit on its own)."""
    cfg = _config()
    _populate(session, cfg)
    refresh_rollups(session, config=cfg)
    session.commit()
    before = snapshot(session)
    rebuild_rollups(session, config=cfg.model_copy(update={"metrics": ()}))
    session.rollback()
    assert snapshot(session) == before
    indexes = {i["name"] for i in inspect(session.get_bind()).get_indexes("metric_daily")}
    assert "ix_metric_daily_team" in indexes
