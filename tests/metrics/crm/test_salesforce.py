from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.engine import SyncReport, sync_source
from metrics.crm.http import RetryPolicy
from metrics.crm.salesforce import SalesforceConnector
from metrics.models import Activity, CrmUser, Deal, DealStageChange
from tests.metrics.crm.helpers import NOW, dirty_days, expected_dirty, live, stored
from tests.support.fake_crm.salesforce import FakeSalesforce, sf_id

START = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)


def sync(fake: FakeSalesforce, factory: sessionmaker[Session], **kw: object) -> SyncReport:
    options: dict[str, object] = {
        "instance_url": fake.url,
        "token_url": f"{fake.url}/services/oauth2/token",
        "client_id": "client-id",
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
        "batch_size": 200,
        "sleep": lambda _s: None,
        "retry": RetryPolicy(max_attempts=4, backoff_base=0.0),
        "timeout": 5.0,
    }
    options.update(kw)
    conn = SalesforceConnector(**options)  # type: ignore[arg-type]
    try:
        return sync_source(conn, session_factory=factory, clock=TravellingClock(NOW))
    finally:
        conn.close()


def assert_matches_fake(
    fake: FakeSalesforce, factory: sessionmaker[Session], skip: frozenset[str] = frozenset()
) -> None:
    deals = live(stored(factory, Deal, "salesforce"))
    assert set(deals) == set(fake.live("Opportunity")) - skip
    for deal_id, deal in deals.items():
        assert deal.modified_at == fake.tables["Opportunity"][deal_id]["_mod"]
    acts = live(stored(factory, Activity, "salesforce"))
    assert set(acts) == (set(fake.live("Task")) | set(fake.live("Event"))) - skip


def test_full_then_incremental_with_token_refresh_and_api_usage(
    session_factory: sessionmaker[Session],
) -> None:
    with FakeSalesforce() as fake:
        fake.seed(users=6, opportunities=1500, tasks=1800, events=300, start=START)
        fake.token_ttl = 9  # access tokens expire every 9 calls: the connector refreshes
        report = sync(fake, session_factory)
        assert report.ok, report.error
        assert report.objects["deals"].new == 1500
        assert report.objects["activities"].new == 2100
        assert report.objects["deals"].pages >= 8
        assert report.objects["deals"].missing_amount == 60
        assert fake.refreshes > 3
        assert report.usage["token_refreshes"] == fake.refreshes
        assert report.usage["daily_api_usage"] == {"used": fake.api_used, "limit": 15000}
        assert_matches_fake(fake, session_factory)
        users = stored(session_factory, CrmUser, "salesforce")
        assert users[sf_id("005", 5)].active is False and users[sf_id("005", 0)].active
        deals = stored(session_factory, Deal, "salesforce")
        won = deals[sf_id("006", 0)]
        assert (won.is_won, won.deal_type, won.closed_at.hour) == (True, "expansion", 12)  # type: ignore[union-attr]
        with session_factory() as session:
            stages = session.scalars(
                select(DealStageChange.stage)
                .where(DealStageChange.deal_id == won.id)
                .order_by(DealStageChange.entered_at)
            ).all()
        assert stages == ["Prospecting", "Closed Won"]
        acts = stored(session_factory, Activity, "salesforce")
        call, email, event = acts[sf_id("00T", 0)], acts[sf_id("00T", 1)], acts[sf_id("00U", 0)]
        assert (call.kind, call.outcome, call.direction, call.duration_seconds) == (
            "call",
            "connected",
            "outbound",
            300,
        )
        assert email.kind == "email" and acts[sf_id("00T", 2)].kind == "task"
        assert (event.kind, event.outcome, event.booked_at) == (
            "meeting",
            "cancelled",
            event.occurred_at - dt.timedelta(days=2),
        )
        assert dirty_days(session_factory) == expected_dirty(session_factory, "salesforce")

        later = START + dt.timedelta(days=2)
        for i in range(12):
            fake.put(
                "Opportunity",
                sf_id("006", 100 + i),
                {"StageName": "Closed Won", "IsClosed": True, "IsWon": True},
                later,
            )
        fake.delete("Opportunity", sf_id("006", 7), later)
        fake.delete("Task", sf_id("00T", 4), later)
        fake.put(
            "Event",
            sf_id("00U", 999),
            {
                "Subject": "New",
                "Type": "Meeting",
                "StartDateTime": "2026-06-01T15:00:00.000+0000",
                "DurationInMinutes": 30,
                "OwnerId": sf_id("005", 1),
                "CreatedDate": "2026-05-06T10:00:00.000+0000",
            },
            later,
        )
        fake.requests.clear()
        again = sync(fake, session_factory)
        assert again.ok, again.error
        d, a = again.objects["deals"], again.objects["activities"]
        assert (d.new, d.updated, d.deleted, d.fetched) == (0, 12, 1, 13)
        assert (a.new, a.updated, a.deleted, a.fetched) == (1, 0, 1, 2)
        assert_matches_fake(fake, session_factory)
        assert dirty_days(session_factory) >= expected_dirty(session_factory, "salesforce")


def test_killed_halfway_resumes_exactly(session_factory: sessionmaker[Session]) -> None:
    with FakeSalesforce() as fake:
        fake.seed(users=3, opportunities=1200, tasks=600, events=100, start=START)
        fake.faults.fail_after_pages = 5
        failed = sync(fake, session_factory)
        assert failed.status == "failed" and "HTTP 500" in (failed.error or "")
        partial = stored(session_factory, Deal, "salesforce")
        assert 0 < len(partial) < 1200
        fake.faults.fail_after_pages = None
        fake.requests.clear()
        resumed = sync(fake, session_factory)
        assert resumed.ok, resumed.error
        opp_query = next(r for r in fake.requests if "FROM Opportunity" in r.query.get("q", ""))
        assert "SystemModstamp >" in opp_query.query["q"]
        assert resumed.objects["deals"].new == 1200 - len(partial)
        assert_matches_fake(fake, session_factory)


def test_storms_and_malformed_records(session_factory: sessionmaker[Session]) -> None:
    with FakeSalesforce() as fake:
        fake.seed(users=3, opportunities=500, tasks=300, events=60, start=START)
        fake.faults.rate_limit_every = 4
        fake.faults.server_error_every = 5
        fake.faults.hang_requests = {3}
        bad = {sf_id("006", 42), sf_id("00U", 5)}
        fake.malformed = bad
        report = sync(
            fake, session_factory, timeout=0.4, retry=RetryPolicy(max_attempts=6, backoff_base=0.0)
        )
        assert report.ok, report.error
        assert report.usage["rate_limited"] > 0 and report.usage["timeouts"] >= 1
        assert report.objects["deals"].problems == 1 and report.objects["activities"].problems == 1
        assert_matches_fake(fake, session_factory, skip=frozenset(bad))


def test_refresh_token_rejected_is_a_clean_failure(session_factory: sessionmaker[Session]) -> None:
    with FakeSalesforce() as fake:
        report = sync(fake, session_factory, refresh_token="stale-refresh-secret")
        assert report.status == "failed"
        assert "invalid_grant" in (report.error or "")
        assert "stale-refresh-secret" not in (report.error or "")
        assert fake.client_secret not in (report.error or "")
