"""HubSpot tie blocks: more records sharing one hs_lastmodifieddate than the search cap lets
one query page through, read by hs_object_id over real HTTP against the fake (with a small
cap and page size, so the block is several times the cap)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from metrics.crm.engine import load_cursor
from metrics.models import Deal
from tests.metrics.crm.helpers import stored
from tests.metrics.crm.test_hubspot import START, assert_matches_fake, sync
from tests.support.fake_crm.hubspot import FakeHubSpot
from tests.support.fake_crm.server import Request, Response

CAP = 300  # the fake's and the connector's search cap; the tests page by 100
TIE = START + dt.timedelta(hours=1)
TIE_MS = int(TIE.timestamp() * 1000)
BLOCK = range(20_000, 20_750)  # 750 deals modified at TIE: 2.5 times the cap
LATER = range(30_000, 30_030)  # deals modified after it
BY_ID = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]


class HookedHubSpot(FakeHubSpot):
    before: Callable[[Request], None] | None = None

    def handle(self, request: Request) -> Response:
        if self.before:
            self.before(request)
        return super().handle(request)


def deal_props(i: int) -> dict[str, Any]:
    return {"dealname": f"Bulk {i}", "createdate": START.isoformat(), "hubspot_owner_id": "100"}


def seed_tie(fake: FakeHubSpot) -> None:
    """40 deals before the block (seeded), the block at TIE, then 30 later deals."""
    fake.seed(owners=2, deals=40, per_type=0, start=START)
    for i in BLOCK:
        fake.put("deals", str(i), deal_props(i), START, TIE)
    for n, i in enumerate(LATER):
        fake.put("deals", str(i), deal_props(i), START, TIE + dt.timedelta(seconds=n + 1))


def block_searches(fake: FakeHubSpot, kind: str = "deals") -> list[dict[str, Any]]:
    return [
        r.body
        for r in fake.requests
        if r.path.endswith(f"{kind}/search") and r.body.get("sorts") == BY_ID
    ]


def test_tie_block_larger_than_the_search_cap_is_read_once_per_row(
    session_factory: sessionmaker[Session],
) -> None:
    with FakeHubSpot(search_cap=CAP) as fake:
        seed_tie(fake)
        for i in range(450):  # engagements too: calls tied at TIE, 1.5 times the cap
            props = {"hs_timestamp": TIE.isoformat(), "hubspot_owner_id": "101"}
            fake.put("calls", str(60_000 + i), props, START, TIE)
        report = sync(fake, session_factory, [], search_cap=CAP)
        assert report.ok, report.error
        deals, calls = report.objects["deals"], report.objects["activities"]
        total = len(fake.live("deals"))
        assert (deals.new, deals.fetched) == (total, total)  # each row handed over once
        assert (calls.new, calls.fetched) == (450, 450)
        assert_matches_fake(fake, session_factory)

        searches = [r.body for r in fake.requests if r.path.endswith("/search")]
        assert all(int(b["after"]) + b["limit"] <= CAP for b in searches)
        for kind, size in (("deals", len(BLOCK)), ("calls", 450)):
            by_id = block_searches(fake, kind)
            assert len(by_id) == math.ceil(size / 100)  # a new search per page, after "0"
            for body in by_id:
                filters = body["filterGroups"][0]["filters"]
                assert filters[0] == {
                    "propertyName": "hs_lastmodifieddate",
                    "operator": "EQ",
                    "value": str(TIE_MS),
                }
                assert all(f["operator"] == "GT" for f in filters[1:])
        windows = [
            b["filterGroups"][0]["filters"]
            for b in searches
            if b["sorts"] != BY_ID and b.get("filterGroups")  # the first has no lower bound
        ]
        past_block = [f for f in windows if f[0]["operator"] == "GT"]  # the window goes on
        assert past_block[0] == [
            {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(TIE_MS)}
        ]


def test_sync_stopped_inside_a_tie_block_resumes_there(
    session_factory: sessionmaker[Session],
) -> None:
    with FakeHubSpot(search_cap=CAP) as fake:
        seed_tie(fake)
        # then only 500s: owners (active, archived), the first window, the page all at TIE
        # and 3 block pages are served; the third's stage-history read fails
        fake.faults.fail_after_pages = 2 + 2 + 3
        failed = sync(fake, session_factory, [], search_cap=CAP)
        assert failed.status == "failed" and "HTTP 500" in (failed.error or "")
        with session_factory() as session:
            state = load_cursor(session, source="hubspot", obj="deals").state or {}
        position = state["deals"]
        assert position["tie_ms"] == position["ms"] == TIE_MS  # stopped inside the block
        partial = set(stored(session_factory, Deal, "hubspot"))
        read = {str(i) for i in BLOCK if i <= int(position["tie_after"])}
        assert read and partial & {str(i) for i in BLOCK} == read
        assert len(read) < len(BLOCK)

        fake.faults.fail_after_pages = None
        fake.requests.clear()
        resumed = sync(fake, session_factory, [], search_cap=CAP)
        assert resumed.ok, resumed.error
        first = block_searches(fake)[0]["filterGroups"][0]["filters"]
        assert first[1] == {
            "propertyName": "hs_object_id",
            "operator": "GT",
            "value": position["tie_after"],
        }
        deals = resumed.objects["deals"]
        left = len(fake.live("deals")) - len(partial)
        assert (deals.new, deals.fetched) == (left, left)  # nothing read twice, nothing lost
        assert_matches_fake(fake, session_factory)
        with session_factory() as session:
            final = (load_cursor(session, source="hubspot", obj="deals").state or {})["deals"]
        assert "tie_ms" not in final and final["id"] == str(LATER[-1])


def test_edits_during_a_tie_block_are_not_lost(session_factory: sessionmaker[Session]) -> None:
    edited_at = TIE + dt.timedelta(minutes=5)
    read, unread = str(BLOCK[10]), str(BLOCK[-10])
    with HookedHubSpot(search_cap=CAP) as fake:
        seed_tie(fake)
        block_pages = itertools.count(1)

        def edit_mid_block(request: Request) -> None:
            if request.body and request.body.get("sorts") == BY_ID and next(block_pages) == 3:
                for deal_id in (read, unread):  # one already read, one the block has ahead
                    fake.touch("deals", deal_id, edited_at, dealname=f"edited {deal_id}")

        fake.before = edit_mid_block
        report = sync(fake, session_factory, [], search_cap=CAP)
        assert report.ok, report.error
        assert next(block_pages) > 4  # the edits landed mid-block
        deals = stored(session_factory, Deal, "hubspot")
        for deal_id in (read, unread):
            assert deals[deal_id].name == f"edited {deal_id}"
            assert deals[deal_id].modified_at == edited_at
        assert_matches_fake(fake, session_factory)


def test_fake_search_sorts_and_filters_by_object_id_and_refuses_the_cap() -> None:
    with FakeHubSpot(search_cap=CAP) as fake:
        for n, i in enumerate((12, 3, 9, 100, 1)):  # 12, 9, 1 at TIE; 3, 100 a second later
            fake.put("deals", str(i), deal_props(i), START, TIE + dt.timedelta(seconds=n % 2))
        headers = {"Authorization": f"Bearer {fake.token}"}

        def search(**body: Any) -> httpx.Response:
            url = f"{fake.url}/crm/v3/objects/deals/search"
            return httpx.post(url, json={"limit": 10, **body}, headers=headers, timeout=5)

        def ids(**body: Any) -> list[str]:
            response = search(**body)
            assert response.status_code == 200, response.text
            return [r["id"] for r in response.json()["results"]]

        def where(*filters: tuple[str, str, int]) -> list[dict[str, Any]]:
            return [
                {
                    "filters": [
                        {"propertyName": p, "operator": o, "value": str(v)} for p, o, v in filters
                    ]
                }
            ]

        by_time = [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
        desc = [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]
        assert ids(sorts=by_time) == ["1", "9", "12", "3", "100"]  # by time, ties by id
        assert ids(sorts=BY_ID) == ["1", "3", "9", "12", "100"]  # numeric, across times
        assert ids(sorts=desc) == ["100", "12", "9", "3", "1"]
        gt3 = where(("hs_object_id", "GT", 3))
        assert ids(sorts=BY_ID, filterGroups=gt3) == ["9", "12", "100"]
        tied = where(("hs_lastmodifieddate", "EQ", TIE_MS), ("hs_object_id", "GT", 3))
        assert ids(sorts=BY_ID, filterGroups=tied) == ["9", "12"]  # ANDed in one group
        assert ids(sorts=BY_ID, filterGroups=where(("hs_object_id", "EQ", 9))) == ["9"]
        refused = search(sorts=BY_ID, after=str(CAP))
        assert refused.status_code == 400
        assert refused.json()["category"] == "VALIDATION_ERROR"
        assert search(sorts=BY_ID, after=str(CAP - 1)).status_code == 200
