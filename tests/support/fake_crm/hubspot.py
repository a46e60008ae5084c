"""A fake HubSpot CRM v3: owners, objects search with the 10,000-result cap, batch read
with property history, archived listing, Bearer auth and the documented error shapes.

Search as HubSpot documents it (../shared/refs/hubspot/): filters of one group ANDed, groups
ORed; one sort (by ``hs_lastmodifieddate``, ties by id, or by ``hs_object_id``, numeric);
``after`` an offset, answered 400 from the cap on."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from typing import Any

from tests.support.fake_crm.server import FakeServer, Request, Response, iso

STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent")
TYPES = ("calls", "emails", "meetings", "tasks")


class FakeHubSpot(FakeServer):
    def __init__(self, *, token: str = "hs-secret-token", search_cap: int = 10_000) -> None:
        super().__init__()
        self.token = token
        self.search_cap = search_cap
        self.owners: list[dict[str, Any]] = []
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"deals": {}, **{t: {} for t in TYPES}}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.malformed: set[str] = set()
        # live records of each kind in search order (`_ordered`), by the kind's version: a
        # change bumps it (tests change records from their own thread while pages are served)
        self._version: dict[str, int] = {}
        self._order: dict[str, tuple[int, list[int], list[int], list[dict[str, Any]]]] = {}
        self.route("GET", r"/crm/v3/owners/?", self._owners)
        self.route("POST", r"/crm/v3/objects/(?P<kind>\w+)/search", self._search)
        self.route("POST", r"/crm/v3/objects/deals/batch/read", self._batch_read)
        self.route("GET", r"/crm/v3/objects/(?P<kind>\w+)", self._list)

    # ------------------------------------------------------------ data
    def seed(self, *, owners: int, deals: int, per_type: int, start: dt.datetime) -> None:
        for i in range(owners):
            self.owners.append(
                {
                    "id": str(100 + i),
                    "email": f"Rep{i}@Example.com",
                    "firstName": "Rep",
                    "lastName": str(i),
                    "userId": 9000 + i,
                    "archived": False,
                    "createdAt": iso(start),
                    "updatedAt": iso(start),
                }
            )
        for i in range(deals):
            created = start + dt.timedelta(minutes=37 * i)
            stage = "closedwon" if i % 7 == 0 else "closedlost" if i % 11 == 0 else STAGES[i % 4]
            props = {
                "dealname": f"Deal {i}",
                "amount": None if i % 20 == 0 else f"{1000 + i}.50",
                "deal_currency_code": "EUR" if i % 5 == 0 else "USD",
                "dealstage": stage,
                "pipeline": "default",
                "closedate": iso(created + dt.timedelta(days=30)),
                "createdate": iso(created),
                "hubspot_owner_id": str(100 + i % owners),
                "hs_is_closed": str(stage.startswith("closed")).lower(),
                "hs_is_closed_won": str(stage == "closedwon").lower(),
                "dealtype": "newbusiness" if i % 3 else "existingbusiness",
            }
            deal_id = str(10_000 + i)
            self.put("deals", deal_id, props, created, start + dt.timedelta(seconds=i // 3))
            self.history[deal_id] = [
                {"value": stage, "timestamp": iso(created + dt.timedelta(days=2))},
                {"value": "appointmentscheduled", "timestamp": iso(created)},
            ]
        for t, kind in enumerate(TYPES):
            for i in range(per_type):
                at = start + dt.timedelta(minutes=11 * i + t)
                props = {
                    "hs_timestamp": iso(at),
                    "hs_createdate": iso(at - dt.timedelta(days=1)),
                    "hubspot_owner_id": str(100 + i % owners),
                }
                if kind == "calls":
                    props |= {
                        "hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7"
                        if i % 4 == 0
                        else "73a0d17f-1163-4015-bdd5-ec830791da20",
                        "hs_call_direction": "OUTBOUND",
                        "hs_call_duration": "61000",
                    }
                if kind == "meetings":
                    props |= {"hs_meeting_start_time": iso(at), "hs_meeting_outcome": "COMPLETED"}
                self.put(
                    kind,
                    str(50_000 + t * 100_000 + i),
                    props,
                    at,
                    start + dt.timedelta(seconds=i // 2),
                )

    def put(
        self,
        kind: str,
        obj_id: str,
        props: dict[str, Any],
        created: dt.datetime,
        modified: dt.datetime,
    ) -> None:
        old = self.objects[kind].get(obj_id, {}).get("properties", {})
        props = {**old, **props, "hs_object_id": obj_id, "hs_lastmodifieddate": iso(modified)}
        self.objects[kind][obj_id] = {
            "id": obj_id,
            "properties": props,
            "createdAt": iso(created),
            "updatedAt": iso(modified),
            "archived": False,
            "_mod": modified,
            "_mod_ms": int(modified.timestamp() * 1000),
        }
        self._version[kind] = self._version.get(kind, 0) + 1

    def touch(self, kind: str, obj_id: str, at: dt.datetime, **props: Any) -> None:
        record = self.objects[kind][obj_id]
        self.put(kind, obj_id, props, dt.datetime.fromisoformat(record["createdAt"]), at)

    def archive(self, kind: str, obj_id: str, at: dt.datetime) -> None:
        record = self.objects[kind][obj_id]
        record["archived"], record["archivedAt"] = True, iso(at)
        self._version[kind] = self._version.get(kind, 0) + 1

    def live(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.objects[kind].items() if not v["archived"]}

    # ------------------------------------------------------------ HTTP
    def check_auth(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return (
                401,
                {},
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        return None

    def error_body(self, status: int, message: str) -> Any:
        if status == 429:
            return {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            }
        return {"status": "error", "message": message, "category": "INTERNAL_ERROR"}

    def _public(self, record: dict[str, Any], props: list[str] | None) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        if props is not None:
            wanted = set(props) | {"hs_object_id", "hs_lastmodifieddate", "createdate"}
            out["properties"] = {k: v for k, v in record["properties"].items() if k in wanted}
        if record["id"] in self.malformed:
            out["properties"] = dict(out["properties"]) | {
                "createdate": "not a date",
                "hs_timestamp": "31/02/2025 25:61",
                "amount": "12,3x4",
            }
        return out

    def _owners(self, request: Request) -> Response:
        archived = request.query.get("archived") == "true"
        rows = [o for o in self.owners if o["archived"] == archived]
        return self._paged(rows, request.query, lambda o: o)

    def _paged(self, rows: list[Any], query: dict[str, str], render: Any) -> Response:
        after = int(query.get("after") or 0)
        limit = int(query.get("limit") or 10)
        body: dict[str, Any] = {"results": [render(r) for r in rows[after : after + limit]]}
        if after + limit < len(rows):
            body["paging"] = {
                "next": {"after": str(after + limit), "link": f"?after={after + limit}"}
            }
        self.count_page()
        return 200, {"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "99"}, body

    def _list(self, request: Request, kind: str) -> Response:
        archived = request.query.get("archived") == "true"
        props = request.query.get("properties")
        rows = sorted(
            (r for r in self.objects[kind].values() if r["archived"] == archived),
            key=lambda r: int(r["id"]),
        )
        return self._paged(
            rows, request.query, lambda r: self._public(r, props.split(",") if props else None)
        )

    def _search(self, request: Request, kind: str) -> Response:
        body = request.body or {}
        after = int(body.get("after") or 0)
        limit = int(body.get("limit") or 10)
        if limit > 200:
            return (
                400,
                {},
                {
                    "status": "error",
                    "message": "limit must be <= 200",
                    "category": "VALIDATION_ERROR",
                },
            )
        if len(body.get("sorts") or []) > 1:  # HubSpot applies one sorting rule per search
            return (
                400,
                {},
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "Only one sort is allowed per search",
                },
            )
        if after >= self.search_cap:
            return (
                400,
                {},
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"Cannot page beyond {self.search_cap} results",
                },
            )
        rows = self._sorted(self._found(kind, body.get("filterGroups") or []), body)
        page = rows[after : after + limit]
        out: dict[str, Any] = {
            "total": len(rows),
            "results": [self._public(r, body.get("properties")) for r in page],
        }
        if after + limit < len(rows):
            out["paging"] = {"next": {"after": str(after + limit)}}
        self.count_page()
        return 200, {}, out

    def _found(self, kind: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The live records matching the filter groups (AND within a group, groups OR, as
        HubSpot's search does), sorted by modified time then id. One group of bounds on
        the modified time (what the connector sends) is two bisections of the ordered
        records, and bounds on the id within one modified time two more (ids are ordered
        there): a page costs its own rows, not a pass over every record."""
        times, ids, ordered = self._ordered(kind)
        if not groups:
            return ordered
        filters = groups[0].get("filters", [])
        by_time = [f for f in filters if f["propertyName"] == "hs_lastmodifieddate"]
        by_id = [f for f in filters if f["propertyName"] == "hs_object_id"]
        if len(groups) > 1 or len(by_time) + len(by_id) < len(filters):
            return [r for r in ordered if any(_matches(r, g.get("filters", [])) for g in groups)]
        lo, hi = _bounds(times, by_time, 0, len(ordered))
        if by_id and lo < hi and times[lo] != times[hi - 1]:  # ids are ordered per time only
            return [r for r in ordered[lo:hi] if _matches(r, by_id)]
        lo, hi = _bounds(ids, by_id, lo, hi)
        return ordered[lo:hi]

    def _sorted(self, rows: list[dict[str, Any]], body: dict[str, Any]) -> list[dict[str, Any]]:
        """`rows` (in modified, id order) in the order of the search's one sort."""
        sorts = body.get("sorts") or [{"propertyName": "hs_lastmodifieddate"}]
        prop, direction = sorts[0]["propertyName"], sorts[0].get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise ValueError(f"the fake cannot sort {direction}")
        if prop == "hs_object_id":
            one_time = not rows or rows[0]["_mod_ms"] == rows[-1]["_mod_ms"]
            if not one_time:  # within one modified time the rows are in id order already
                rows = sorted(rows, key=lambda r: int(r["id"]))
        elif prop != "hs_lastmodifieddate":
            raise ValueError(f"the fake cannot sort by {prop}")
        return rows[::-1] if direction == "DESCENDING" else rows

    def _ordered(self, kind: str) -> tuple[list[int], list[int], list[dict[str, Any]]]:
        """(modified ms, id, record) of the live records, sorted by (modified, id)."""
        version = self._version.get(kind, 0)
        cached = self._order.get(kind)
        if cached is None or cached[0] != version:
            rows = sorted(
                (r for r in list(self.objects[kind].values()) if not r["archived"]),
                key=lambda r: (r["_mod"], int(r["id"])),
            )
            times, ids = [r["_mod_ms"] for r in rows], [int(r["id"]) for r in rows]
            cached = self._order[kind] = (version, times, ids, rows)
        return cached[1], cached[2], cached[3]

    def _batch_read(self, request: Request) -> Response:
        results = []
        for item in (request.body or {}).get("inputs", []):
            record = self.objects["deals"].get(item["id"])
            if record is None:
                continue
            results.append(
                {
                    "id": record["id"],
                    "properties": {"dealstage": record["properties"].get("dealstage")},
                    "propertiesWithHistory": {"dealstage": self.history.get(record["id"], [])},
                    "createdAt": record["createdAt"],
                    "updatedAt": record["updatedAt"],
                    "archived": False,
                }
            )
        return 200, {}, {"status": "COMPLETE", "results": results}


def _bounds(keys: list[int], filters: list[dict[str, Any]], lo: int, hi: int) -> tuple[int, int]:
    """[lo, hi) of ascending `keys` narrowed to the filters' bounds."""
    for f in filters:
        want, op = int(f["value"]), f["operator"]
        if op not in ("GTE", "GT", "EQ", "LT"):
            raise ValueError(f"the fake cannot filter with {op}")
        if lo >= hi:
            break
        if op in ("GTE", "EQ"):
            lo = bisect_left(keys, want, lo, hi)
        if op == "GT":
            lo = bisect_right(keys, want, lo, hi)
        if op == "LT":
            hi = bisect_left(keys, want, lo, hi)
        if op == "EQ":
            hi = bisect_right(keys, want, lo, hi)
    return lo, max(lo, hi)


def _matches(row: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        if f["propertyName"] == "hs_lastmodifieddate":
            have = row["_mod_ms"]
        elif f["propertyName"] == "hs_object_id":
            have = int(row["id"])
        else:
            raise ValueError(f"the fake cannot filter on {f['propertyName']}")
        want = int(f["value"])
        ok = {"GTE": have >= want, "GT": have > want, "EQ": have == want, "LT": have < want}
        if not ok[f["operator"]]:
            return False
    return True
