from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.engine import SyncReport, sync_source
from metrics.crm.http import RetryPolicy
from metrics.crm.pipedrive import PipedriveConnector
from metrics.models import Activity, CrmUser, Deal, DealStageChange
from tests.metrics.crm.helpers import NOW, count, dirty_days, expected_dirty, live, stored
from tests.support.fake_crm.pipedrive import FakePipedrive, pd_time

START = dt.datetime(2026, 7, 6, 8, 0, tzinfo=dt.UTC)


def sync(fake: FakePipedrive, factory: sessionmaker[Session], **kw: object) -> SyncReport:
    options: dict[str, object] = {
        "token": fake.token,
        "base_url": fake.url,
        "page_size": 100,
        "burst": 100_000,
        "sleep": lambda _s: None,
        "retry": RetryPolicy(max_attempts=4, backoff_base=0.0),
        "timeout": 5.0,
    }
    options.update(kw)
    conn = PipedriveConnector(**options)  # type: ignore[arg-type]
    try:
        return sync_source(conn, session_factory=factory, clock=TravellingClock(NOW))
    finally:
        conn.close()


def assert_matches_fake(
    fake: FakePipedrive, factory: sessionmaker[Session], skip: frozenset[str] = frozenset()
) -> None:
    deals = live(stored(factory, Deal, "pipedrive"))
    assert set(deals) == {str(k) for k, v in fake.deals.items() if v["status"] != "deleted"} - skip
    for deal_id, deal in deals.items():
        assert pd_time(deal.modified_at) == fake.deals[int(deal_id)]["update_time"]
    acts = live(stored(factory, Activity, "pipedrive"))
    assert set(acts) == {str(k) for k, v in fake.activities.items() if not v["is_deleted"]} - skip


def test_full_then_incremental(session_factory: sessionmaker[Session]) -> None:
    with FakePipedrive() as fake:
        fake.seed(users=5, deals=1500, activities=2500, start=START)
        report = sync(fake, session_factory)
        assert report.ok, report.error
        assert (report.objects["deals"].new, report.objects["activities"].new) == (1500, 2500)
        assert report.objects["deals"].pages >= 15
        assert report.objects["deals"].missing_amount == 50
        assert_matches_fake(fake, session_factory)
        assert stored(session_factory, CrmUser, "pipedrive")["1004"].active is False
        deal = stored(session_factory, Deal, "pipedrive")["1"]
        assert (deal.is_won, deal.currency, deal.stage) == (True, "EUR", "Qualified")
        assert deal.closed_at == START + dt.timedelta(days=9)
        acts = stored(session_factory, Activity, "pipedrive")
        meeting = acts["7"]
        assert acts["3"].outcome == "scheduled"  # not marked done
        assert (meeting.kind, meeting.outcome, meeting.duration_seconds) == (
            "meeting",
            "completed",
            1800,
        )
        assert meeting.booked_at == meeting.occurred_at - dt.timedelta(days=1)
        assert acts["4"].kind == "task" and acts["1"].kind == "call"
        assert dirty_days(session_factory) == expected_dirty(session_factory, "pipedrive")
        assert count(session_factory, DealStageChange) == 1500

        later = START + dt.timedelta(days=1)
        fake.touch(fake.deals, 2, later, stage_id=3, stage_change_time=pd_time(later))
        fake.touch(fake.deals, 3, later, status="deleted", is_deleted=True)
        fake.touch(fake.activities, 10, later + dt.timedelta(seconds=1), done=True)
        fake.requests.clear()
        again = sync(fake, session_factory)
        assert again.ok, again.error
        d, a = again.objects["deals"], again.objects["activities"]
        assert (d.new, d.updated, d.deleted) == (0, 1, 1)
        assert (a.new, a.updated, a.deleted) == (0, 1, 0)
        assert d.fetched < 10 and a.fetched < 10
        assert all(
            "updated_since" in r.query for r in fake.requests if r.path.startswith("/api/v2/deals")
        )
        assert count(session_factory, DealStageChange) == 1501  # the stage move was appended
        assert_matches_fake(fake, session_factory)


def test_killed_halfway_resumes_exactly(session_factory: sessionmaker[Session]) -> None:
    with FakePipedrive() as fake:
        fake.seed(users=3, deals=1000, activities=800, start=START)
        fake.faults.fail_after_pages = 6
        failed = sync(fake, session_factory)
        assert failed.status == "failed"
        partial = stored(session_factory, Deal, "pipedrive")
        assert 0 < len(partial) < 1000
        fake.faults.fail_after_pages = None
        resumed = sync(fake, session_factory)
        assert resumed.ok, resumed.error
        assert resumed.objects["deals"].new == 1000 - len(partial)
        assert_matches_fake(fake, session_factory)


def test_rate_limit_without_retry_after_5xx_and_malformed(
    session_factory: sessionmaker[Session],
) -> None:
    sleeps: list[float] = []
    with FakePipedrive() as fake:
        fake.seed(users=3, deals=400, activities=400, start=START)
        fake.faults.rate_limit_every = 3
        fake.faults.server_error_every = 4
        fake.malformed = {17, 33}
        report = sync(
            fake,
            session_factory,
            sleep=sleeps.append,
            retry=RetryPolicy(max_attempts=6, backoff_base=0.0),
        )
        assert report.ok, report.error
        assert report.usage["rate_limited"] > 0 and report.usage["server_errors"] > 0
        assert 0.0 in sleeps  # x-ratelimit-reset honoured
        assert report.objects["deals"].problems == 2 and report.objects["activities"].problems == 2
        assert_matches_fake(fake, session_factory, skip=frozenset({"17", "33"}))
