"""CRM 429s and 5xx mid-pagination, and a run cut off halfway, against a fault-free twin:
after the faulty syncs resume, the store and the sync cursors are exactly what one clean sync
of the same CRM produces. (Per-connector fault tests live in tests/metrics/crm/.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.crm.http import RetryPolicy
from metrics.models import Activity, Deal, DealStageChange, SyncCursor
from metrics.store import make_engine, make_session_factory
from tests.conftest import fresh_database_url
from tests.metrics.crm.test_hubspot import START, sync
from tests.reliability.support import FULL
from tests.support.fake_crm.hubspot import FakeHubSpot

DEALS, PER_TYPE = (3000, 1000) if FULL else (600, 200)


def snapshot(factory: sessionmaker[Session]) -> dict[str, Any]:
    with factory() as s:
        return {
            "deals": sorted(
                (d.external_id, d.modified_at, d.stage, d.amount, d.deleted)
                for d in s.scalars(select(Deal))
            ),
            "activities": sorted(
                (a.external_id, a.kind, a.occurred_at, a.deleted)
                for a in s.scalars(select(Activity))
            ),
            "stages": len(s.scalars(select(DealStageChange)).all()),
            "cursors": sorted(
                (c.source, c.object, c.cursor_modified_at, c.cursor_external_id, str(c.state))
                for c in s.scalars(select(SyncCursor))
            ),
        }


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_faulty_interrupted_sync_ends_where_a_clean_one_does(
    session_factory: sessionmaker[Session], tmp_path: Path, sqlite_template: Path
) -> None:
    clean_url = fresh_database_url(
        "sqlite", tmp_path, postgres_server=None, template=sqlite_template
    )
    clean_engine = make_engine(clean_url)
    clean = make_session_factory(clean_engine)
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=6, backoff_base=0.0)
    with FakeHubSpot() as fake:
        fake.seed(owners=5, deals=DEALS, per_type=PER_TYPE, start=START)
        assert sync(fake, clean, sleeps).ok

        fake.faults.rate_limit_every = 3
        fake.faults.retry_after = "0.01"
        fake.faults.server_error_every = 5
        fake.faults.fail_after_pages = fake.pages_served + 5  # then only 500s: the run fails
        first = sync(fake, session_factory, sleeps, retry=retry)
        assert first.status == "failed" and "HTTP 500" in (first.error or "")
        partial = snapshot(session_factory)
        assert 0 < len(partial["deals"]) < DEALS
        for _ in range(3):  # resumes, still under 429s and 5xx
            fake.faults.fail_after_pages = fake.pages_served + 5
            if sync(fake, session_factory, sleeps, retry=retry).ok:
                break
        fake.faults.fail_after_pages = None
        final = sync(fake, session_factory, sleeps, retry=retry)
        assert final.ok, final.error
        assert final.usage["rate_limited"] > 0 and final.usage["server_errors"] > 0

    want, got = snapshot(clean), snapshot(session_factory)
    assert got["deals"] == want["deals"]
    assert got["activities"] == want["activities"]
    assert got["stages"] == want["stages"]
    assert got["cursors"] == want["cursors"]
    clean_engine.dispose()
