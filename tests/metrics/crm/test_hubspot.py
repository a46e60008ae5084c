from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.engine import sync_source
from metrics.crm.http import RetryPolicy
from metrics.crm.hubspot import HubSpotConnector
from metrics.models import Activity, Deal, DealStageChange
from tests.metrics.crm.helpers import NOW, dirty_days, expected_dirty, live, stored
from tests.support.fake_crm.hubspot import FakeHubSpot

START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def connector(fake: FakeHubSpot, sleeps: list[float], **kw: object) -> HubSpotConnector:
    options: dict[str, object] = {
        "token": fake.token,
        "base_url": fake.url,
        "page_size": 100,
        "sleep": sleeps.append,
        "retry": RetryPolicy(max_attempts=4, backoff_base=0.0),
        "ten_second_limit": 100_000,
        "search_per_second": 100_000,
        "lookback": dt.timedelta(0),
        "timeout": 5.0,
    }
    options.update(kw)
    return HubSpotConnector(**options)  # type: ignore[arg-type]


def sync(fake: FakeHubSpot, factory: sessionmaker[Session], sleeps: list[float], **kw: object):  # type: ignore[no-untyped-def]
    conn = connector(fake, sleeps, **kw)
    try:
        return sync_source(conn, session_factory=factory, clock=TravellingClock(NOW))
    finally:
        conn.close()


def assert_matches_fake(
    fake: FakeHubSpot, factory: sessionmaker[Session], skip: set[str] = frozenset()
) -> None:  # type: ignore[assignment]
    deals = live(stored(factory, Deal, "hubspot"))
    assert set(deals) == set(fake.live("deals")) - skip
    for deal_id, deal in deals.items():
        assert deal.modified_at == fake.objects["deals"][deal_id]["_mod"]
    activities = live(stored(factory, Activity, "hubspot"))
    want = {
        f"{kind[:-1]}:{i}"
        for kind in ("calls", "emails", "meetings", "tasks")
        for i in fake.live(kind)
    } - {f"{k}:{i}" for k in ("call", "email", "meeting", "task") for i in skip}
    assert set(activities) == want


def test_full_sync_then_incremental_picks_up_only_changes(
    session_factory: sessionmaker[Session],
) -> None:
    sleeps: list[float] = []
    with FakeHubSpot() as fake:
        fake.seed(owners=8, deals=1200, per_type=600, start=START)
        report = sync(fake, session_factory, sleeps)
        assert report.ok, report.error
        deals, acts = report.objects["deals"], report.objects["activities"]
        assert (deals.new, acts.new) == (1200, 2400)
        assert deals.pages >= 12 and acts.pages >= 24
        assert deals.missing_amount == 60
        assert_matches_fake(fake, session_factory)
        stored_deals = stored(session_factory, Deal, "hubspot")
        won = stored_deals["10000"]
        assert (won.is_closed, won.is_won, won.stage, won.deal_type) == (
            True,
            True,
            "closedwon",
            "expansion",
        )
        assert stored_deals["10005"].currency == "EUR" and stored_deals["10000"].amount is None
        with session_factory() as session:
            history = session.scalars(
                select(DealStageChange.stage)
                .where(DealStageChange.deal_id == won.id)
                .order_by(DealStageChange.entered_at)
            ).all()
        assert history == ["appointmentscheduled", "closedwon"]
        calls = stored(session_factory, Activity, "hubspot")
        assert calls["call:50000"].outcome == "connected"
        assert calls["call:50001"].outcome == "no_answer"
        assert calls["call:50000"].duration_seconds == 61
        meeting = calls["meeting:250000"]
        assert meeting.booked_at == meeting.occurred_at - dt.timedelta(days=1)
        assert meeting.outcome == "completed"
        assert dirty_days(session_factory) == expected_dirty(session_factory, "hubspot")

        later = START + dt.timedelta(days=3)
        for i in range(10):
            fake.touch(
                "deals",
                str(10_001 + i),
                later,
                dealstage="closedwon",
                hs_is_closed="true",
                hs_is_closed_won="true",
            )
        for i in range(15):
            fake.touch("calls", str(50_100 + i), later + dt.timedelta(seconds=i))
        fake.put(
            "deals",
            "99999",
            {
                "dealname": "New",
                "amount": "5",
                "createdate": START.isoformat(),
                "hubspot_owner_id": "100",
            },
            later,
            later,
        )
        for i in range(3):
            fake.archive("deals", str(10_500 + i), later)
        fake.archive("meetings", "250007", later)
        fake.requests.clear()
        again = sync(fake, session_factory, sleeps)
        assert again.ok, again.error
        d, a = again.objects["deals"], again.objects["activities"]
        assert (d.new, d.updated, d.deleted) == (1, 10, 3)
        assert (a.new, a.updated, a.deleted) == (0, 15, 1)
        assert d.fetched < 30 and a.fetched < 30
        searches = [r for r in fake.requests if r.path.endswith("/search")]
        assert searches and all(r.body.get("filterGroups") for r in searches)
        assert_matches_fake(fake, session_factory)
        assert stored(session_factory, Deal, "hubspot")["10500"].deleted
        assert dirty_days(session_factory) >= expected_dirty(session_factory, "hubspot")


def test_sync_killed_halfway_resumes_without_loss_or_duplicates(
    session_factory: sessionmaker[Session],
) -> None:
    sleeps: list[float] = []
    with FakeHubSpot() as fake:
        fake.seed(owners=5, deals=900, per_type=300, start=START)
        fake.faults.fail_after_pages = 8
        failed = sync(fake, session_factory, sleeps)
        assert failed.status == "failed"
        assert "HTTP 500" in (failed.error or "")
        partial = stored(session_factory, Deal, "hubspot")
        assert 0 < len(partial) < 900
        fake.faults.fail_after_pages = None
        fake.requests.clear()
        resumed = sync(fake, session_factory, sleeps)
        assert resumed.ok, resumed.error
        first_search = next(r for r in fake.requests if r.path.endswith("deals/search"))
        assert first_search.body.get("filterGroups")  # resumed from the cursor, not from zero
        assert resumed.objects["deals"].new == 900 - len(partial)
        assert_matches_fake(fake, session_factory)


def test_rate_limits_server_errors_timeouts_and_malformed_records(
    session_factory: sessionmaker[Session],
) -> None:
    sleeps: list[float] = []
    with FakeHubSpot() as fake:
        fake.seed(owners=4, deals=400, per_type=150, start=START)
        fake.faults.rate_limit_every = 3
        fake.faults.retry_after = "0.01"
        fake.faults.server_error_every = 7
        fake.faults.hang_requests = {4}
        fake.malformed = {"10042", "50007"}
        report = sync(
            fake,
            session_factory,
            sleeps,
            timeout=0.4,
            retry=RetryPolicy(max_attempts=6, backoff_base=0.0),
        )
        assert report.ok, report.error
        assert report.usage["rate_limited"] > 0 and report.usage["server_errors"] > 0
        assert report.usage["timeouts"] >= 1
        assert 0.01 in sleeps
        assert report.objects["deals"].problems == 1
        assert report.objects["activities"].problems == 1
        assert any(
            "10042" in s and "createdate" in s for s in report.objects["deals"].problem_samples
        )
        assert_matches_fake(fake, session_factory, skip={"10042", "50007"})


def test_bad_token_fails_cleanly_without_leaking_it(session_factory: sessionmaker[Session]) -> None:
    with FakeHubSpot() as fake:
        fake.seed(owners=1, deals=1, per_type=1, start=START)
        report = sync(fake, session_factory, [], token="wrong-secret-value")
        assert report.status == "failed"
        assert "HTTP 401" in (report.error or "")
        assert "wrong-secret-value" not in (report.error or "")
        assert fake.token not in (report.error or "")


def test_search_result_cap_is_windowed_by_modified_time(
    session_factory: sessionmaker[Session],
) -> None:
    with FakeHubSpot(search_cap=300) as fake:
        fake.seed(owners=2, deals=700, per_type=5, start=START)
        report = sync(fake, session_factory, [], search_cap=300)
        assert report.ok, report.error
        assert report.objects["deals"].new == 700
        windows = [
            r.body
            for r in fake.requests
            if r.path.endswith("deals/search") and r.body["after"] == "0"
        ]
        assert len(windows) >= 3  # the cap forced new windows from the last modified time
        assert all(
            int(body["after"]) < 300
            for body in (r.body for r in fake.requests if r.body and "after" in r.body)
        )
        assert_matches_fake(fake, session_factory)
