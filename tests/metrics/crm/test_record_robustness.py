"""Bad values in one record never stop a sync: they become problems; CSV money formats,
hand edits and encodings; older versions never overwrite newer ones; unconvertible
currencies are counted."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.config import CurrencyConfig
from metrics.crm import parse
from metrics.crm.csv_source import CsvConnector
from metrics.crm.engine import sync_source
from metrics.crm.errors import CrmConfigError
from metrics.crm.records import ActivityRecord, Cursor, DealRecord
from metrics.models import Activity, Deal
from tests.metrics.crm.helpers import NOW, stored
from tests.metrics.crm.test_engine import T0, ListConnector, call, run

A = "id,type,owner_email,occurred_at,duration_seconds,subject\n"
D = "id,name,amount,currency,created_at\n"


def csv_run(folder: Path, factory: sessionmaker[Session], **kw: object) -> object:
    return sync_source(
        CsvConnector(folder, **kw),  # type: ignore[arg-type]
        session_factory=factory,
        clock=TravellingClock(NOW),
    )


def test_lone_surrogate_in_text_is_replaced_not_fatal(
    session_factory: sessionmaker[Session],
) -> None:
    conn = ListConnector()
    bad = ActivityRecord("c1", "call", "o1", T0, T0, subject="Call with Jos\ud83d")
    conn.acts = {"c1": bad, "c0002": call(2)}
    report = run(conn, session_factory)
    assert report.ok, report.error
    acts = stored(session_factory, Activity, "mem")
    assert acts["c1"].subject == "Call with Jos\ufffd" and "c0002" in acts


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+09:00", "9999-12-31T23:00:00-05:00", "1969-12-31", "2101-01-01"]
)
def test_instants_outside_1970_2100_are_bad_values(value: str) -> None:
    with pytest.raises(parse.BadValue, match="outside 1970-2100"):
        parse.instant(value, "x") if "T" in value else parse.day(value, "x")


def test_csv_edge_times_and_bad_durations_are_row_problems(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    ok = "a@x.io,2026-11-20T15:00:00"
    (tmp_path / "activities.csv").write_text(
        A
        + f"A1,call,{ok},60,ok\n"
        + "A2,call,a@x.io,0001-01-01T00:00:00,60,year one\n"
        + "A3,call,a@x.io,9999-12-31T23:00:00-05:00,60,far\n"
        + f"A4,call,{ok},1e999,inf\n"
        + f"A5,call,{ok},inf,inf\n"
        + f"A6,call,{ok},99999999999999999999,huge\n"
        + f"A7,call,{ok},{8 * 86400},eight days\n"
        + f"A8,call,{ok},-5,negative\n"
    )
    report = csv_run(tmp_path, session_factory, timezone="Asia/Tokyo")
    assert report.ok, report.error  # type: ignore[attr-defined]
    stats = report.objects["activities"]  # type: ignore[attr-defined]
    assert set(stored(session_factory, Activity, "csv")) == {"A1"}
    assert stats.problems == 7
    assert any("activities.csv:3:" in s and "outside 1970-2100" in s for s in stats.problem_samples)
    assert sum("duration_seconds" in s for s in stats.problem_samples) == 5


def test_parse_integer_refuses_infinities_and_huge_values() -> None:
    for value in ("1e999", "inf", "nan", "99999999999999999999", "1e999999999"):
        with pytest.raises(parse.BadValue):
            parse.integer(value, "d")
    assert parse.integer("60.7", "d") == 60 and parse.integer(7, "d") == 7
    assert (
        parse.duration("120000", "ms", unit=1) == 120000 // 1 and parse.duration(None, "d") is None
    )


def test_engine_turns_an_unusable_record_into_a_problem(
    session_factory: sessionmaker[Session],
) -> None:
    conn = ListConnector()
    naive = ActivityRecord("c1", "call", "o1", T0.replace(tzinfo=None), T0)
    long_call = ActivityRecord("c3", "call", "o1", T0, T0, duration_seconds=10**12)
    conn.acts = {"c1": naive, "c0002": call(2), "c3": long_call}
    broken = DealRecord("d1", "o1", T0, T0, stage_history=(("x", T0),))  # type: ignore[arg-type]
    conn.deal_list = {"d1": broken, "d2": DealRecord("d2", "o1", T0, T0, amount=Decimal(1))}
    report = run(conn, session_factory)
    assert report.ok, report.error
    assert set(stored(session_factory, Activity, "mem")) == {"c0002"}
    assert set(stored(session_factory, Deal, "mem")) == {"d2"}
    samples = report.objects["deals"].problem_samples
    assert any("d1" in s and "AttributeError" in s for s in samples), samples
    act_samples = report.objects["activities"].problem_samples
    assert any("c1" in s and "no time zone" in s for s in act_samples), act_samples
    assert any("c3" in s and "duration" in s for s in act_samples), act_samples


def test_european_amounts_and_currency_symbols() -> None:
    assert parse.money("1.250,00", "a") == Decimal("1250.00")
    assert parse.money("1,5", "a") == Decimal("1.50")
    assert parse.money("1 250,00", "a") == Decimal("1250.00")
    assert parse.money("1,250", "a") == Decimal("1250.00")  # comma + 3 digits: thousands
    assert parse.money("1,250.00", "a") == Decimal("1250.00")
    assert parse.money("1.250.000", "a") == Decimal("1250000.00")
    assert parse.money("$1,200.00", "a", "USD") == Decimal("1200.00")
    assert parse.amount("1.200,50 €", "a") == (Decimal("1200.50"), "EUR")
    assert parse.amount("-EUR 5", "a") == (Decimal("-5.00"), "EUR")
    for bad in ("1,2345", "1,250,00", "1.250,0,0", "1,25.00"):
        with pytest.raises(parse.BadValue):
            parse.money(bad, "a")
    with pytest.raises(parse.BadValue, match="not in currency EUR"):
        parse.money("$1,200.00", "a", "EUR")


def test_csv_european_and_symbol_amounts_load(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    (tmp_path / "deals.csv").write_text(
        D
        + 'D1,A,"1.250,00",EUR,2026-11-02\n'
        + 'D2,B,"1,5",EUR,2026-11-02\n'
        + 'D3,C,"$1,200.00",USD,2026-11-02\n'
        + 'D4,D,"€1.200,00",,2026-11-02\n'
        + 'D5,E,"£3",EUR,2026-11-02\n'
    )
    report = csv_run(tmp_path, session_factory, default_currency="USD")
    deals = stored(session_factory, Deal, "csv")
    got = {k: (v.amount, v.currency) for k, v in deals.items()}
    assert got == {
        "D1": (Decimal("1250.00"), "EUR"),
        "D2": (Decimal("1.50"), "EUR"),
        "D3": (Decimal("1200.00"), "USD"),
        "D4": (Decimal("1200.00"), "EUR"),
    }
    samples = report.objects["deals"].problem_samples  # type: ignore[attr-defined]
    assert len(samples) == 1 and "deals.csv:6:" in samples[0] and "EUR" in samples[0]


def test_csv_edit_with_unchanged_modified_at_is_stored(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    head = "id,name,amount,currency,created_at,modified_at\n"
    row = "D1,Acme,{},USD,2026-11-02T10:00:00Z,2026-11-05T10:00:00Z\n"
    (tmp_path / "deals.csv").write_text(head + row.format(1000))
    csv_run(tmp_path, session_factory)
    (tmp_path / "deals.csv").write_text(head + row.format(100000))
    report = csv_run(tmp_path, session_factory)
    assert report.objects["deals"].updated == 1  # type: ignore[attr-defined]
    assert stored(session_factory, Deal, "csv")["D1"].amount == Decimal("100000.00")
    again = (tmp_path / "deals.csv").read_text() + "D2,New,5,USD,2026-11-02,\n"
    (tmp_path / "deals.csv").write_text(again)  # D1 as stored: unchanged
    stats = csv_run(tmp_path, session_factory).objects["deals"]  # type: ignore[attr-defined]
    assert (stats.new, stats.updated, stats.unchanged) == (1, 0, 1)


def test_csv_edit_with_preserved_mtime_is_stored(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    acts = tmp_path / "activities.csv"
    acts.write_text(A + "A1,call,a@x.io,2026-11-20T15:00:00Z,60,First\n")
    os.utime(acts, (1.7e9, 1.7e9))
    csv_run(tmp_path, session_factory)
    acts.write_text(A + "A1,call,a@x.io,2026-11-20T15:00:00Z,90,Fixed\n")
    os.utime(acts, (1.7e9, 1.7e9))
    report = csv_run(tmp_path, session_factory)
    assert report.objects["activities"].updated == 1  # type: ignore[attr-defined]
    row = stored(session_factory, Activity, "csv")["A1"]
    assert (row.subject, row.duration_seconds) == ("Fixed", 90)


def test_older_version_never_overwrites_a_newer_one(
    session_factory: sessionmaker[Session],
) -> None:
    conn = ListConnector()
    late = T0 + dt.timedelta(hours=2)
    conn.deal_list = {"d1": DealRecord("d1", "o1", T0, late, amount=Decimal(200))}
    conn.acts = {"c1": call(1, mod=late)}
    run(conn, session_factory)
    early = T0 + dt.timedelta(hours=1)
    conn.deal_list = {"d1": DealRecord("d1", "o1", T0, early, amount=Decimal(100))}
    conn.acts = {"c1": ActivityRecord("c0001", "email", "o1", T0, early)}
    report = run(conn, session_factory, full=True)
    assert report.objects["deals"].unchanged == 1 and report.objects["deals"].updated == 0
    deal = stored(session_factory, Deal, "mem")["d1"]
    assert (deal.amount, deal.modified_at) == (Decimal("200.00"), late)
    assert stored(session_factory, Activity, "mem")["c0001"].kind == "call"
    # a delete applies even when it carries an older time
    conn.deal_list = {"d1": DealRecord("d1", "o1", T0, early, deleted=True)}
    assert run(conn, session_factory, full=True).objects["deals"].deleted == 1
    assert stored(session_factory, Deal, "mem")["d1"].deleted


def test_currencies_without_a_rate_are_counted(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    assert parse.currency("€", "USD") == "EUR" and parse.currency("£", None) == "GBP"
    assert parse.currency("", "USD") == "USD"
    with pytest.raises(parse.BadValue):
        parse.currency("$", "USD")
    (tmp_path / "deals.csv").write_text(
        D
        + "D1,A,5000000,JPY,2026-11-02\n"
        + "D2,B,100,XYZ,2026-11-02\n"
        + "D3,C,100,EUR,2026-11-02\n"
        + "D4,D,100,€,2026-11-02\n"
        + "D5,E,100,USD,2026-11-02\n"
        + "D6,F,,JPY,2026-11-02\n"
        + "D7,G,100,$,2026-11-02\n"
    )
    report = sync_source(
        CsvConnector(tmp_path),
        session_factory=session_factory,
        clock=TravellingClock(NOW),
        currencies=CurrencyConfig(reporting="USD", rates={"EUR": 1.08}),
    )
    stats = report.objects["deals"]
    assert stats.no_rate == 2 and stats.problems == 1  # JPY, XYZ; "$" refused
    assert stored(session_factory, Deal, "csv")["D4"].currency == "EUR"


def test_csv_latin1_and_semicolon_files(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_bytes((D + "D1,Société,1,EUR,2026-11-02\n").encode("latin-1"))
    with pytest.raises(CrmConfigError, match=r"deals\.csv is not UTF-8"):
        list(CsvConnector(tmp_path).deals(Cursor()))
    (tmp_path / "deals.csv").write_text(D.replace(",", ";") + 'D1;A;"1.250,00";EUR;2026-11-02\n')
    pages = list(CsvConnector(tmp_path).deals(Cursor()))
    assert [(r.external_id, r.amount) for r in pages[0].records] == [("D1", Decimal("1250.00"))]
