"""Connector behaviour under vendor faults: edits during paging, cursors that never end,
bodies that are not JSON, null or unreadable fields, and bad tokens. All over real HTTP
against the fake CRMs, with small subclasses injecting the fault."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import socket
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.engine import SyncReport, sync_source
from metrics.crm.errors import CrmApiError, CrmConfigError
from metrics.crm.http import RetryPolicy
from metrics.crm.hubspot import HubSpotConnector
from metrics.crm.pipedrive import PipedriveConnector
from metrics.crm.records import Cursor
from metrics.crm.salesforce import SalesforceConnector
from metrics.models import Activity, Deal
from tests.metrics.crm.helpers import NOW, stored
from tests.support.fake_crm.hubspot import FakeHubSpot
from tests.support.fake_crm.pipedrive import FakePipedrive
from tests.support.fake_crm.salesforce import FakeSalesforce
from tests.support.fake_crm.server import Request, Response

START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
Hook = Callable[[Request, Response], Response]
HTML = b"<html><body>Gateway maintenance</body></html>"


class HookedHubSpot(FakeHubSpot):
    before: Callable[[Request], None] | None = None
    after: Hook | None = None

    def handle(self, request: Request) -> Response:
        if self.before:
            self.before(request)
        response = super().handle(request)
        return self.after(request, response) if self.after else response


class HookedSalesforce(FakeSalesforce):
    after: Hook | None = None

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        return self.after(request, response) if self.after else response


class HookedPipedrive(FakePipedrive):
    after: Hook | None = None

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        return self.after(request, response) if self.after else response


def body_of(response: Response) -> Any:
    return copy.deepcopy(response[2])


def hubspot(fake: FakeHubSpot, **kw: Any) -> HubSpotConnector:
    options: dict[str, Any] = {
        "token": fake.token,
        "base_url": fake.url,
        "page_size": 10,
        "sleep": lambda _s: None,
        "retry": RetryPolicy(max_attempts=3, backoff_base=0.0),
        "ten_second_limit": 100_000,
        "search_per_second": 100_000,
        "lookback": dt.timedelta(0),
        "timeout": 5.0,
    } | kw
    return HubSpotConnector(**options)


def salesforce(fake: FakeSalesforce, **kw: Any) -> SalesforceConnector:
    options: dict[str, Any] = {
        "instance_url": fake.url,
        "token_url": f"{fake.url}/services/oauth2/token",
        "client_id": "client-id",
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
        "batch_size": 10,
        "sleep": lambda _s: None,
        "retry": RetryPolicy(max_attempts=3, backoff_base=0.0),
        "timeout": 5.0,
    } | kw
    return SalesforceConnector(**options)


def pipedrive(fake: FakePipedrive, **kw: Any) -> PipedriveConnector:
    options: dict[str, Any] = {
        "token": fake.token,
        "base_url": fake.url,
        "page_size": 10,
        "burst": 100_000,
        "sleep": lambda _s: None,
        "retry": RetryPolicy(max_attempts=3, backoff_base=0.0),
        "timeout": 5.0,
    } | kw
    return PipedriveConnector(**options)


def run(conn: Any, factory: sessionmaker[Session]) -> SyncReport:
    try:
        return sync_source(conn, session_factory=factory, clock=TravellingClock(NOW))
    finally:
        conn.close()


# ---------------------------------------------------------------- 1. edits during paging
def test_hubspot_deal_edited_between_pages_is_not_lost(
    session_factory: sessionmaker[Session],
) -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=25, per_type=0, start=START)
        searches = itertools.count(1)

        def edit_before_second_page(request: Request) -> None:
            if request.path.endswith("deals/search") and next(searches) == 2:
                fake.touch("deals", "10000", START + dt.timedelta(hours=2), dealname="renamed")

        fake.before = edit_before_second_page
        first = run(hubspot(fake), session_factory)
        fake.before = None
        second = run(hubspot(fake), session_factory)
        assert first.ok and second.ok, (first.error, second.error)
        deals = stored(session_factory, Deal, "hubspot")
        assert set(deals) == set(fake.objects["deals"])  # 10010 used to be skipped for good
        assert deals["10000"].name == "renamed"


# ---------------------------------------------------------------- 2. repeating cursors
def test_repeating_next_cursors_fail_instead_of_looping() -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=25, per_type=0, start=START)
        fake.after = lambda rq, resp: (
            (resp[0], resp[1], {**body_of(resp), "paging": {"next": {"after": "10"}}})
            if rq.path.endswith("deals/search")
            else resp
        )
        conn = hubspot(fake)
        with pytest.raises(CrmApiError, match="hubspot POST /crm/v3/objects/deals/search"):
            list(itertools.islice(conn.deals(Cursor()), 60))
        fake.after = lambda rq, resp: (
            (resp[0], resp[1], {**body_of(resp), "paging": {"next": {"after": "7"}}})
            if "owners" in rq.path
            else resp
        )
        with pytest.raises(CrmApiError, match="hubspot GET /crm/v3/owners"):
            list(itertools.islice(conn.owners(Cursor()), 60))
        conn.close()

    with HookedSalesforce() as sf:
        sf.seed(users=2, opportunities=25, tasks=0, events=0, start=START)

        first_next: list[str] = []

        def same_next(rq: Request, resp: Response) -> Response:
            body = body_of(resp)
            records = body.get("records") if isinstance(body, dict) else None
            if records and records[0]["attributes"]["type"] == "Opportunity":
                first_next[:] = first_next or [body["nextRecordsUrl"]]
                body["done"] = False
                body["nextRecordsUrl"] = first_next[0]  # every batch points at batch 2
            return resp[0], resp[1], body

        sf.after = same_next
        sf_conn = salesforce(sf)
        with pytest.raises(CrmApiError, match=r"salesforce GET .*nextRecordsUrl"):
            list(itertools.islice(sf_conn.deals(Cursor()), 60))
        sf_conn.close()

    with HookedPipedrive() as pd:
        pd.seed(users=2, deals=25, activities=0, start=START)
        pd.after = lambda rq, resp: (
            (resp[0], resp[1], {**body_of(resp), "additional_data": {"next_cursor": "c2FtZQ=="}})
            if rq.path == "/api/v2/deals"
            else resp
        )
        pd_conn = pipedrive(pd)
        with pytest.raises(CrmApiError, match="pipedrive GET /api/v2/deals"):
            list(itertools.islice(pd_conn.deals(Cursor()), 60))
        pd_conn.close()


# ---------------------------------------------------------------- 3. non-JSON bodies
@pytest.mark.parametrize(
    "payload",
    [HTML, b'{"results": [{"id": "1", "prop', b"[1, 2]"],
    ids=["html", "truncated", "list"],
)
def test_hubspot_body_that_is_not_a_json_object_names_the_endpoint(
    session_factory: sessionmaker[Session], payload: bytes
) -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=5, per_type=0, start=START)
        fake.after = lambda rq, resp: (200, {}, payload) if "deals/search" in rq.path else resp
        report = run(hubspot(fake), session_factory)
        assert report.status == "failed"
        assert "hubspot POST /crm/v3/objects/deals/search" in (report.error or "")
        assert "application/json" in (report.error or "")  # the content type is named


def test_null_result_lists_are_empty_and_html_fails_cleanly_everywhere(
    session_factory: sessionmaker[Session],
) -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=5, per_type=0, start=START)
        fake.after = lambda rq, resp: (
            (200, {}, {"results": None}) if "deals/search" in rq.path else resp
        )
        report = run(hubspot(fake), session_factory)
        assert report.ok, report.error
        assert report.objects["deals"].fetched == 0
    with HookedSalesforce() as sf:
        sf.seed(users=2, opportunities=3, tasks=0, events=0, start=START)
        sf.after = lambda rq, resp: (200, {}, HTML) if "/query" in rq.path else resp
        report = run(salesforce(sf), session_factory)
        assert report.status == "failed"
        assert "salesforce GET /services/data/v61.0/query" in (report.error or "")
        assert "not valid JSON" in (report.error or "")
    with HookedPipedrive() as pd:
        pd.seed(users=2, deals=3, activities=0, start=START)
        pd.after = lambda rq, resp: (200, {}, b"{") if rq.path == "/v1/users" else resp
        report = run(pipedrive(pd), session_factory)
        assert report.status == "failed"
        assert "pipedrive GET /v1/users" in (report.error or "")


# ---------------------------------------------------------------- 4. null SystemModstamp
def test_salesforce_null_systemmodstamp_on_last_row_is_a_problem_not_a_stop(
    session_factory: sessionmaker[Session],
) -> None:
    with HookedSalesforce() as sf:
        sf.seed(users=2, opportunities=8, tasks=0, events=0, start=START)

        def null_last(rq: Request, resp: Response) -> Response:
            body = body_of(resp)
            records = body.get("records") if isinstance(body, dict) else None
            if records and records[0].get("attributes", {}).get("type") == "Opportunity":
                records[-1]["SystemModstamp"] = None
            return resp[0], resp[1], body

        sf.after = null_last
        report = run(salesforce(sf), session_factory)
        assert report.ok, report.error
        assert report.objects["deals"].problems == 1
        assert "SystemModstamp is missing" in report.objects["deals"].problem_samples[0]
        assert len(stored(session_factory, Deal, "salesforce")) == 7


# ---------------------------------------------------------------- 5/6. unreadable fields
def test_unreadable_optional_fields_become_none_and_keep_the_record(
    session_factory: sessionmaker[Session],
) -> None:
    with HookedPipedrive() as pd:
        pd.seed(users=2, deals=4, activities=4, start=START)
        pd.deals[2]["expected_close_date"] = "0000-00-00"
        pd.activities[next(iter(pd.activities))]["duration"] = "1:ab"
        report = run(pipedrive(pd), session_factory)
        assert report.ok, report.error
        assert report.objects["deals"].problems == report.objects["activities"].problems == 0
        deals = stored(session_factory, Deal, "pipedrive")
        assert len(deals) == 4
        acts = stored(session_factory, Activity, "pipedrive")
        assert len(acts) == 4
        assert acts[str(next(iter(pd.activities)))].duration_seconds is None
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=4, per_type=0, start=START)
        fake.objects["deals"]["10001"]["properties"]["closedate"] = "0000-00-00"
        report = run(hubspot(fake), session_factory)
        assert report.ok, report.error
        assert report.objects["deals"].problems == 0
        deal = stored(session_factory, Deal, "hubspot")["10001"]
        assert deal.close_date is None


# ---------------------------------------------------------------- 7. tokens
def test_token_whitespace_is_stripped_and_bad_characters_refused(
    session_factory: sessionmaker[Session],
) -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=3, per_type=0, start=START)
        report = run(hubspot(fake, token=fake.token + "\n"), session_factory)
        assert report.ok, report.error
        for bad in ("pat-na1-\u2019SECRET", "pat-na1-SEC\nRET"):
            with pytest.raises(CrmConfigError, match="HubSpot token") as info:
                hubspot(fake, token=bad)
            assert "SECRET" not in str(info.value) and "SEC\n" not in str(info.value)
        with pytest.raises(CrmConfigError, match="Pipedrive API token"):
            PipedriveConnector(token="abc\x00def", base_url=fake.url)
        with pytest.raises(CrmConfigError, match="Salesforce refresh token"):
            salesforce(FakeSalesforce(), refresh_token="r\u00e9fresh")


def test_auth_failures_name_the_credential_and_connection_errors_chain_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=1, deals=1, per_type=0, start=START)
        report = run(hubspot(fake, token="wrong-secret"), session_factory)
        assert report.status == "failed"
        assert "check the HubSpot private app token" in (report.error or "")
        assert "wrong-secret" not in (report.error or "")
    with HookedPipedrive() as pd:
        pd.seed(users=1, deals=1, activities=0, start=START)
        pd.after = lambda rq, resp: (403, {}, {"success": False, "error": "Forbidden"})
        report = run(pipedrive(pd), session_factory)
        assert "check the Pipedrive API token" in (report.error or "")
    with socket.socket() as sock:  # a port that refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = HubSpotConnector(
        token="pat-SECRET",
        base_url=f"http://127.0.0.1:{port}",
        sleep=lambda _s: None,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.0),
    )
    with pytest.raises(CrmApiError, match="connection failed") as info:
        list(conn.owners(Cursor()))
    conn.close()
    assert info.value.__cause__ is None and info.value.__context__ is None


# ---------------------------------------------------------------- 8. empty page + next
def test_empty_page_with_a_next_cursor_is_followed(session_factory: sessionmaker[Session]) -> None:
    with HookedHubSpot() as fake:
        fake.seed(owners=2, deals=25, per_type=0, start=START)
        first = itertools.count(1)
        fake.after = lambda rq, resp: (
            (200, {}, {"results": [], "paging": {"next": {"after": "10"}}})
            if rq.path.endswith("deals/search") and next(first) == 1
            else resp
        )
        report = run(hubspot(fake), session_factory)
        assert report.ok, report.error
        # the vendor's offset 10 skips deals 0-9 in this page; the rest must arrive
        assert report.objects["deals"].new == 15
    with HookedPipedrive() as pd:
        pd.seed(users=2, deals=25, activities=0, start=START)
        calls = itertools.count(1)

        def empty_first(rq: Request, resp: Response) -> Response:
            if rq.path == "/api/v2/deals" and next(calls) == 1:
                body = body_of(resp)
                return resp[0], resp[1], {**body, "data": []}
            return resp

        pd.after = empty_first
        report = run(pipedrive(pd), session_factory)
        assert report.ok, report.error
        assert report.objects["deals"].new == 15
