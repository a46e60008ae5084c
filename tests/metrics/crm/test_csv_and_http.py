from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.config import CurrencyConfig
from metrics.crm import parse
from metrics.crm.csv_source import CsvConnector
from metrics.crm.engine import sync_source
from metrics.crm.errors import CrmApiError, CrmConfigError
from metrics.crm.http import ApiClient, RateBudget, RetryPolicy
from metrics.crm.money import to_reporting
from metrics.crm.records import Cursor
from metrics.models import Activity, CrmUser, Deal
from tests.metrics.crm.helpers import NOW, stored

DEALS = """id,name,owner_email,stage,amount,currency,type,created_at,status,closed_at
D1,Acme,Dana@Acme.example,negotiation,"12,500.00",EUR,New Business,2026-11-02T10:00:00Z,open,
D2,Globex,leo@acme.example,closedwon,9000,USD,renewal,2026-10-01 09:00,won,2026-11-10T16:00:00Z
D3,Broken,leo@acme.example,x,12x,USD,,not-a-date,open,
D4,NoAmount,leo@acme.example,demo,,,,2026-11-03,open,
D5,BadStatus,leo@acme.example,demo,1,USD,,2026-11-03,maybe,
"""
ACTIVITIES = """id,type,owner_email,occurred_at,booked_at,outcome,direction,duration_seconds,subject
A1,call,dana@acme.example,2026-11-20T15:00:00Z,,Connected,outbound,300,Intro
A2,meeting,dana@acme.example,2026-11-25T15:00:00Z,2026-11-20T15:05:00Z,,,1800,Demo
A3,fax,dana@acme.example,2026-11-20T15:00:00Z,,,,,
A4,email,leo@acme.example,yesterday,,,,,
A5,email,leo@acme.example,2026-11-21T08:00:00,,,outbound,,Follow-up
"""


def test_csv_loads_good_rows_and_reports_bad_ones(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    (tmp_path / "deals.csv").write_text(DEALS)
    (tmp_path / "activities.csv").write_text(ACTIVITIES)
    conn = CsvConnector(tmp_path, default_currency="USD", timezone="America/New_York")
    report = sync_source(conn, session_factory=session_factory, clock=TravellingClock(NOW))
    assert report.ok, report.error
    deals = stored(session_factory, Deal, "csv")
    assert set(deals) == {"D1", "D2", "D4"}
    assert (deals["D1"].amount, deals["D1"].currency, deals["D1"].deal_type) == (
        Decimal("12500.00"),
        "EUR",
        "new",
    )
    assert deals["D2"].is_won and deals["D2"].closed_at == dt.datetime(
        2026, 11, 10, 16, tzinfo=dt.UTC
    )
    assert deals["D4"].amount is None and report.objects["deals"].missing_amount == 1
    samples = report.objects["deals"].problem_samples
    assert any(s.startswith("deals.csv:4: deals D3:") and "created_at" in s for s in samples)
    assert any(s.startswith("deals.csv:6:") and "status" in s for s in samples)
    acts = stored(session_factory, Activity, "csv")
    assert set(acts) == {"A1", "A2", "A5"}
    assert acts["A1"].outcome == "connected" and acts["A2"].outcome == "scheduled"
    assert acts["A5"].occurred_at == dt.datetime(
        2026, 11, 21, 13, tzinfo=dt.UTC
    )  # naive = org zone
    act_samples = report.objects["activities"].problem_samples
    assert any(s.startswith("activities.csv:4:") and "kind" in s for s in act_samples)
    assert any(s.startswith("activities.csv:5:") and "occurred_at" in s for s in act_samples)
    owners = stored(session_factory, CrmUser, "csv")
    assert owners["dana@acme.example"].email == "dana@acme.example"
    again = sync_source(
        CsvConnector(tmp_path), session_factory=session_factory, clock=TravellingClock(NOW)
    )
    assert again.objects["activities"].fetched == 0 and again.usage["files_read"] == []
    assert again.objects["deals"].fetched == 0


def test_csv_missing_columns_and_folder_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(CrmConfigError, match="not a folder"):
        CsvConnector(tmp_path / "nope")
    (tmp_path / "deals.csv").write_text("id,name\n1,x\n")
    conn = CsvConnector(tmp_path)
    with pytest.raises(CrmConfigError, match="created_at"):
        list(conn.deals(Cursor()))


def test_rate_budget_paces_with_injected_time() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    budget = RateBudget(3, 10.0, sleep=sleep, monotonic=lambda: now[0])
    for _ in range(7):
        budget.acquire()
    assert sleeps == [10.0, 10.0]


def test_api_client_gives_up_with_a_clean_message() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"message": "down"})

    client = ApiClient(
        name="x",
        base_url="http://crm.test",
        headers={"Authorization": "Bearer s3cret"},
        retry=RetryPolicy(max_attempts=3, backoff_base=0.0),
        sleep=lambda _s: None,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(CrmApiError) as info:
        client.request("GET", "/things?api_token=s3cret")
    assert len(calls) == 3 and info.value.status == 503
    assert "s3cret" not in str(info.value) and "/things" in str(info.value)


def test_parsers_and_money() -> None:
    assert parse.instant("2025-02-14T17:03:10.000+0000", "x") == dt.datetime(
        2025, 2, 14, 17, 3, 10, tzinfo=dt.UTC
    )
    assert parse.instant("1735689600000", "x") == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert parse.instant("2020-06-08 12:37:56", "x") == dt.datetime(
        2020, 6, 8, 12, 37, 56, tzinfo=dt.UTC
    )
    with pytest.raises(parse.BadValue):
        parse.instant("soon", "x")
    assert parse.money(None, "a") is None and parse.money("", "a") is None
    assert parse.money("1,000.5", "a") == Decimal("1000.50")
    assert parse.call_outcome("Left Voicemail") == "voicemail"
    assert parse.call_outcome("73a0d17f-1163-4015-bdd5-ec830791da20") == "no_answer"
    assert parse.meeting_outcome("NO_SHOW") == "no_show"
    assert parse.deal_type("Existing Business - Upgrade") == "expansion"
    rates = CurrencyConfig(reporting="USD", rates={"EUR": 1.08})
    assert to_reporting(Decimal("100"), "EUR", rates) == Decimal("108.00")
    assert to_reporting(Decimal("100"), None, rates) == Decimal("100.00")
    assert to_reporting(Decimal("100"), "JPY", rates) is None
    assert to_reporting(None, "USD", rates) is None
