"""A fake Salesforce REST API: OAuth refresh-token flow, SOQL query/queryAll with
nextRecordsUrl batches (a tiny SOQL reader for the shapes the connector sends),
Sforce-Limit-Info, and the documented error arrays."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

from tests.support.fake_crm.server import FakeServer, Request, Response

SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
    r"(?: ORDER BY (?P<order>.+))?$",
    re.S,
)


def sf_time(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}RO{n:013d}"


class FakeSalesforce(FakeServer):
    def __init__(
        self, *, refresh_token: str = "sf-refresh-secret", client_secret: str = "sf-client-secret"
    ) -> None:
        super().__init__()
        self.refresh_token, self.client_secret = refresh_token, client_secret
        self.tokens: dict[str, int] = {}  # token -> requests left
        self.token_ttl = 1_000_000
        self.refreshes = 0
        self.api_used = 0
        self.tables: dict[str, dict[str, dict[str, Any]]] = {
            "User": {},
            "Opportunity": {},
            "OpportunityHistory": {},
            "Task": {},
            "Event": {},
        }
        self.malformed: set[str] = set()
        self._locators: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.route("POST", r"/services/oauth2/token", self._token)
        self.route("GET", r"/services/data/v[\d.]+/(?P<resource>query|queryAll)", self._query)
        self.route(
            "GET", r"/services/data/v[\d.]+/query/(?P<locator>[\w]+)-(?P<offset>\d+)", self._more
        )

    # ------------------------------------------------------------ data
    def seed(
        self, *, users: int, opportunities: int, tasks: int, events: int, start: dt.datetime
    ) -> None:
        for i in range(users):
            self.put(
                "User",
                sf_id("005", i),
                {"Name": f"Rep {i}", "Email": f"rep{i}@example.com", "IsActive": i != users - 1},
                start,
            )
        for i in range(opportunities):
            created = start + dt.timedelta(hours=i)
            stage = "Closed Won" if i % 6 == 0 else "Closed Lost" if i % 9 == 0 else "Prospecting"
            opp = sf_id("006", i)
            self.put(
                "Opportunity",
                opp,
                {
                    "Name": f"Opp {i}",
                    "OwnerId": sf_id("005", i % users),
                    "StageName": stage,
                    "Amount": None if i % 25 == 0 else 1000.0 + i,
                    "CloseDate": (created + dt.timedelta(days=20)).date().isoformat(),
                    "IsClosed": stage.startswith("Closed"),
                    "IsWon": stage == "Closed Won",
                    "Type": "New Business" if i % 2 else "Existing Business",
                    "LeadSource": "Web",
                    "CreatedDate": sf_time(created),
                },
                start + dt.timedelta(seconds=i // 3),
            )
            self.put(
                "OpportunityHistory",
                f"008{i:015d}",
                {"OpportunityId": opp, "StageName": "Prospecting", "CreatedDate": sf_time(created)},
                start,
            )
            if stage != "Prospecting":
                self.put(
                    "OpportunityHistory",
                    f"009{i:015d}",
                    {
                        "OpportunityId": opp,
                        "StageName": stage,
                        "CreatedDate": sf_time(created + dt.timedelta(days=20)),
                    },
                    start,
                )
        for i in range(tasks):
            at = start + dt.timedelta(minutes=7 * i)
            subtype = ("Call", "Email", "Task")[i % 3]
            self.put(
                "Task",
                sf_id("00T", i),
                {
                    "Subject": subtype,
                    "TaskSubtype": subtype,
                    "Type": subtype if subtype != "Task" else None,
                    "Status": "Completed",
                    "CallDisposition": ("Connected", "No Answer", "Left Voicemail")[i % 3 // 1 % 3]
                    if subtype == "Call"
                    else None,
                    "CallType": "Outbound" if subtype == "Call" else None,
                    "CallDurationInSeconds": 300 if subtype == "Call" else None,
                    "CompletedDateTime": sf_time(at),
                    "OwnerId": sf_id("005", i % users),
                    "WhatId": sf_id("006", i % max(opportunities, 1)),
                    "CreatedDate": sf_time(at),
                },
                start + dt.timedelta(seconds=i // 2),
            )
        for i in range(events):
            at = start + dt.timedelta(hours=3 * i)
            self.put(
                "Event",
                sf_id("00U", i),
                {
                    "Subject": "Demo" if i % 10 else "Cancelled: demo",
                    "Type": "Meeting",
                    "StartDateTime": sf_time(at),
                    "DurationInMinutes": 30,
                    "OwnerId": sf_id("005", i % users),
                    "WhatId": None,
                    "CreatedDate": sf_time(at - dt.timedelta(days=2)),
                },
                start + dt.timedelta(seconds=i),
            )

    def put(self, obj: str, rec_id: str, fields: dict[str, Any], modified: dt.datetime) -> None:
        old = self.tables[obj].get(rec_id, {})
        self.tables[obj][rec_id] = {
            **old,
            **fields,
            "Id": rec_id,
            "IsDeleted": False,
            "SystemModstamp": sf_time(modified),
            "_mod": modified,
        }

    def delete(self, obj: str, rec_id: str, at: dt.datetime) -> None:
        self.put(obj, rec_id, {}, at)
        self.tables[obj][rec_id]["IsDeleted"] = True

    def live(self, obj: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.tables[obj].items() if not v["IsDeleted"]}

    # ------------------------------------------------------------ HTTP
    def error_body(self, status: int, message: str) -> Any:
        return [
            {
                "message": message,
                "errorCode": "SERVER_UNAVAILABLE" if status >= 500 else "REQUEST_LIMIT_EXCEEDED",
            }
        ]

    def check_auth(self, request: Request) -> Response | None:
        if request.path.endswith("/oauth2/token"):
            return None
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        left = self.tokens.get(token, 0)
        if left <= 0:
            return (
                401,
                {},
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
            )
        self.tokens[token] = left - 1
        return None

    def _token(self, request: Request) -> Response:
        form = request.body or {}
        if (form.get("grant_type"), form.get("refresh_token"), form.get("client_secret")) != (
            "refresh_token",
            self.refresh_token,
            self.client_secret,
        ):
            return (
                400,
                {},
                {"error": "invalid_grant", "error_description": "expired access/refresh token"},
            )
        self.refreshes += 1
        token = f"00Dfake!access{self.refreshes}"
        self.tokens[token] = self.token_ttl
        return (
            200,
            {},
            {
                "access_token": token,
                "instance_url": self.url,
                "token_type": "Bearer",
                "issued_at": "1700000000000",
                "signature": "x",
            },
        )

    def _limit(self) -> dict[str, str]:
        self.api_used += 1
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/15000"}

    def _query(self, request: Request, resource: str) -> Response:
        match = SOQL.match(request.query.get("q", "").strip())
        if not match:
            return 400, {}, [{"message": "unexpected token", "errorCode": "MALFORMED_QUERY"}]
        fields = [f.strip() for f in match["fields"].split(",")]
        rows = [
            r
            for r in self.tables[match["obj"]].values()
            if resource == "queryAll" or not r["IsDeleted"]
        ]
        where = match["where"] or ""
        since = re.search(r"SystemModstamp > (\S+)", where)
        if since:
            ts = dt.datetime.fromisoformat(since[1].replace("Z", "+00:00"))
            after_id = re.search(r"Id > '(\w+)'", where)
            rows = [
                r
                for r in rows
                if r["_mod"] > ts or (after_id and r["_mod"] == ts and r["Id"] > after_id[1])
            ]
        ids = re.search(r"OpportunityId IN \((.*)\)", where)
        if ids:
            wanted = set(re.findall(r"'(\w+)'", ids[1]))
            rows = [r for r in rows if r["OpportunityId"] in wanted]
            rows.sort(key=lambda r: (r["OpportunityId"], r["CreatedDate"]))
        else:
            rows.sort(key=lambda r: (r["_mod"], r["Id"]))
        obj = match["obj"]
        rendered = [self._render(obj, r, fields) for r in rows]
        size = int((request.headers.get("sforce-query-options") or "batchSize=2000").split("=")[1])
        locator = f"01gRO{len(self._locators):010d}"
        self._locators[locator] = rendered
        return self._batch(locator, 0, size)

    def _more(self, request: Request, locator: str, offset: str) -> Response:
        size = int((request.headers.get("sforce-query-options") or "batchSize=2000").split("=")[1])
        return self._batch(locator, int(offset), size)

    def _batch(self, locator: str, offset: int, size: int) -> Response:
        rows = self._locators[locator]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": offset + size >= len(rows),
            "records": rows[offset : offset + size],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v61.0/query/{locator}-{offset + size}"
        self.count_page()
        return 200, self._limit(), body

    def _render(self, obj: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": obj, "url": f"/services/data/v61.0/sobjects/{obj}/{row['Id']}"}
        }
        for f in fields:
            out[f] = row.get(f)
        if row["Id"] in self.malformed:
            out["CreatedDate"] = "yesterday"
            if "StartDateTime" in out:
                out["StartDateTime"] = "soon"
        return out
