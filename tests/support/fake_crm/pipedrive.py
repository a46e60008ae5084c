"""A fake Pipedrive API: v1 users, v2 deals/activities/stages with cursor pagination and
updated_since, x-api-token auth, 429 with x-ratelimit-* headers (no Retry-After)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from tests.support.fake_crm.server import FakeServer, Request, Response


def pd_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakePipedrive(FakeServer):
    def __init__(self, *, token: str = "pd-secret-token") -> None:
        super().__init__()
        self.token = token
        self.users: list[dict[str, Any]] = []
        self.deals: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.malformed: set[int] = set()
        self.faults.retry_after = None
        self.route("GET", r"/v1/users", self._users)
        self.route("GET", r"/api/v2/stages", self._stages)
        self.route("GET", r"/api/v2/deals", lambda r: self._list(r, self.deals, deals=True))
        self.route(
            "GET", r"/api/v2/activities", lambda r: self._list(r, self.activities, deals=False)
        )

    def seed(self, *, users: int, deals: int, activities: int, start: dt.datetime) -> None:
        for i in range(users):
            self.users.append(
                {
                    "id": 1000 + i,
                    "name": f"User {i}",
                    "email": f"user{i}@example.com",
                    "active_flag": i != users - 1,
                    "modified": "2026-01-02 03:04:05",
                    "created": "2025-01-01 00:00:00",
                    "default_currency": "EUR",
                }
            )
        for i in range(deals):
            created = start + dt.timedelta(hours=i)
            status = "won" if i % 5 == 0 else "lost" if i % 7 == 0 else "open"
            self.deals[i + 1] = {
                "id": i + 1,
                "title": f"Deal {i}",
                "owner_id": 1000 + i % users,
                "person_id": None,
                "org_id": None,
                "pipeline_id": 1,
                "stage_id": 1 + i % 3,
                "value": None if i % 30 == 0 else 500 + i,
                "currency": "EUR",
                "add_time": pd_time(created),
                "update_time": pd_time(start + dt.timedelta(seconds=i // 3)),
                "stage_change_time": pd_time(created + dt.timedelta(days=1)),
                "is_deleted": False,
                "is_archived": False,
                "status": status,
                "probability": None,
                "lost_reason": None,
                "close_time": pd_time(created + dt.timedelta(days=9)) if status != "open" else None,
                "won_time": pd_time(created + dt.timedelta(days=9)) if status == "won" else None,
                "lost_time": pd_time(created + dt.timedelta(days=9)) if status == "lost" else None,
                "expected_close_date": (created + dt.timedelta(days=30)).date().isoformat(),
                "label_ids": [],
                "custom_fields": {},
            }
        for i in range(activities):
            at = start + dt.timedelta(minutes=13 * i)
            kind = ("call", "email", "meeting", "task")[i % 4]
            self.activities[i + 1] = {
                "id": i + 1,
                "subject": f"{kind} {i}",
                "type": kind,
                "owner_id": 1000 + i % users,
                "deal_id": 1 + i % max(deals, 1),
                "due_date": at.date().isoformat(),
                "due_time": at.strftime("%H:%M"),
                "duration": "00:30",
                "done": i % 8 != 2,
                "add_time": pd_time(at - dt.timedelta(days=1)),
                "update_time": pd_time(start + dt.timedelta(seconds=i // 2)),
                "marked_as_done_time": pd_time(at),
                "is_deleted": False,
            }

    def touch(
        self, table: dict[int, dict[str, Any]], rec_id: int, at: dt.datetime, **fields: Any
    ) -> None:
        table[rec_id] |= fields | {"update_time": pd_time(at)}

    def check_auth(self, request: Request) -> Response | None:
        if request.headers.get("x-api-token") != self.token:
            return (
                401,
                {},
                {
                    "success": False,
                    "error": "unauthorized access",
                    "errorCode": 401,
                    "error_info": "Please check developers.pipedrive.com",
                },
            )
        return None

    def rate_limit_headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": "20", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}

    def error_body(self, status: int, message: str) -> Any:
        return {
            "success": False,
            "error": "Request over limit" if status == 429 else message,
            "error_info": "Please check developers.pipedrive.com",
            "data": None,
            "additional_data": None,
        }

    def _users(self, request: Request) -> Response:
        return 200, {}, {"success": True, "data": self.users}

    def _stages(self, request: Request) -> Response:
        names = {1: "Qualified", 2: "Proposal Made", 3: "Negotiations Started"}
        return (
            200,
            {},
            {
                "success": True,
                "data": [{"id": k, "name": v, "pipeline_id": 1} for k, v in names.items()],
                "additional_data": {"next_cursor": None},
            },
        )

    def _list(self, request: Request, table: dict[int, dict[str, Any]], *, deals: bool) -> Response:
        q = request.query
        rows = list(table.values())
        if deals:
            wanted = set((q.get("status") or "open,won,lost").split(","))
            rows = [r for r in rows if r["status"] in wanted]
        else:
            rows = [r for r in rows if not r["is_deleted"]]
        if q.get("updated_since"):
            rows = [r for r in rows if r["update_time"] >= q["updated_since"]]
        rows.sort(key=lambda r: (r["update_time"], r["id"]))
        offset = json.loads(base64.b64decode(q["cursor"]))["offset"] if q.get("cursor") else 0
        limit = min(int(q.get("limit") or 100), 500)
        page = [dict(r) for r in rows[offset : offset + limit]]
        for r in page:
            if r["id"] in self.malformed:
                r["add_time"] = "a while ago"
        nxt = None
        if offset + limit < len(rows):
            nxt = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
        self.count_page()
        return (
            200,
            {"x-ratelimit-limit": "20", "x-ratelimit-remaining": "19"},
            {"success": True, "data": page, "additional_data": {"next_cursor": nxt}},
        )
