"""HubSpot CRM search paging: time windows, and tie blocks read by object id.

``POST /crm/v3/objects/{type}/search`` takes one sort, ANDs the filters of a filter group,
and answers 400 past 10,000 results of one query (``after`` is an offset into it).

- Time windows: sorted by ``hs_lastmodifieddate``, each page a new search ``modified >= T``
  from the newest time T seen. Paging by offset would skip a row whenever one is edited
  mid-run (the edit moves it to the end, shifting every later row back by one); restarting
  from T, an edit can only move a row later, never past the reader. The new search returns
  the rows at T again: those already handed over in this run (same id, same time: the same
  version) are dropped, so a run hands each row over once.
- Tie blocks: a full page whose rows all share the time it began at, with more to come (a
  bulk import or a workflow touching thousands of records in one millisecond), cannot move
  the window on, and offsets stop at the cap. The block (that page's rows included) is read
  by a second search, ``modified == T AND hs_object_id > last id`` sorted by
  ``hs_object_id``, each page a new search after the last id seen, so no query passes the
  cap however big the block; then the window goes on with ``modified > T``. A row edited
  during the block leaves T for a later time, where the window finds it.
- Position, saved with each page: ``{"ms", "id"}`` of the newest row handed over, plus
  ``{"tie_ms", "tie_after"}`` while a block is part-read, so a run stopped inside the block
  resumes after that id. A finished block drops them: a later run that starts at or
  before T reads it again, as it does every row from its start on.
- The first search of a run starts at the position minus the lookback (search results lag
  behind writes); rows re-read then are skipped by the engine as unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from metrics.crm import parse
from metrics.crm.errors import CrmApiError
from metrics.crm.http import CursorGuard, json_list

MODIFIED = "hs_lastmodifieddate"
OBJECT_ID = "hs_object_id"
TIE_KEYS = ("tie_ms", "tie_after")

Post = Callable[[dict[str, Any]], dict[str, Any]]
Batch = tuple[list[Any], dict[str, Any]]


def search_pages(
    post: Post,
    *,
    path: str,
    object_type: str,
    props: Sequence[str],
    position: dict[str, Any],
    page_size: int,
    search_cap: int,
    lookback_ms: int,
) -> Iterator[Batch]:
    """(rows, position after them) for every page of `object_type` modified since
    `position`; `post(body)` sends one search request to `path`."""
    reader = _Reader(post, path, object_type, props, page_size, search_cap)
    return reader.pages(position, lookback_ms)


class _Reader:
    def __init__(
        self,
        post: Post,
        path: str,
        object_type: str,
        props: Sequence[str],
        page_size: int,
        search_cap: int,
    ) -> None:
        self.post = post
        self.where = f"hubspot POST {path}"
        self.object_type = object_type
        self.props = list(props)
        self.page_size = page_size
        self.search_cap = search_cap
        self.pos: dict[str, Any] = {}
        self.resume: dict[str, Any] = {}
        self.seen_ms: int | None = None  # the newest time handed over, and the ids at it
        self.seen: set[str] = set()

    def pages(self, position: dict[str, Any], lookback_ms: int) -> Iterator[Batch]:
        self.pos = dict(position)
        self.resume = {k: position[k] for k in TIE_KEYS if k in position}
        since: int | None = position.get("ms")
        if since is not None:
            since -= lookback_ms
        strict, after = False, 0  # strict: `modified > since` (a tie block at since is read)
        guard = CursorGuard(self.where)
        while True:
            data = self.post(self._window(since, strict, after))
            results = json_list(data, "results", self.where)
            times = [ms for ms in map(modified_ms, results) if ms is not None]
            newest = max(times) if times else since
            nxt = next_after(data)
            if nxt and results and not strict and since is not None and newest == since:
                yield from self._tie_block(since)  # the block reads this page's rows too
                strict, after = True, 0
                continue
            yield self._hand_over(results), dict(self.pos)
            if not nxt:
                return
            guard.check((since, strict, nxt))
            if results and newest != since:
                since, strict, after = newest, False, 0  # a new search from the newest time
                continue
            after = int(nxt)  # an empty page that still offers a next one: follow it
            if after + self.page_size > self.search_cap:
                raise CrmApiError(
                    f"{self.where}: empty pages kept offering a next page up to the "
                    f"{self.search_cap}-result cap"
                )

    def _window(self, since: int | None, strict: bool, after: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
            "properties": self.props,
            "limit": self.page_size,
            "after": str(after),
        }
        if since is not None:
            op = "GT" if strict else "GTE"
            body["filterGroups"] = [{"filters": [_filter(MODIFIED, op, since)]}]
        return body

    def _tie_block(self, at: int) -> Iterator[Batch]:
        """Every row at `at`, by ascending object id, from where a stopped run left off."""
        last = self._resume_after(at)
        while True:
            filters = [_filter(MODIFIED, "EQ", at)]
            if last is not None:
                filters.append(_filter(OBJECT_ID, "GT", last))
            data = self.post(
                {
                    "filterGroups": [{"filters": filters}],
                    "sorts": [{"propertyName": OBJECT_ID, "direction": "ASCENDING"}],
                    "properties": self.props,
                    "limit": self.page_size,
                    "after": "0",
                }
            )
            results = json_list(data, "results", self.where)
            ids = [i for i in map(object_id, results) if i is not None]
            done = not results or next_after(data) is None
            newest_id = max(ids, default=last)
            if not done and (newest_id is None or (last is not None and newest_id <= last)):
                raise CrmApiError(
                    f"{self.where}: {self.object_type} tied at {at} did not advance by "
                    f"{OBJECT_ID}; paging would not end"
                )
            last = newest_id
            fresh = [r for r in results if not self._handed_over(r)]
            self._at_tie(at, last, done)
            yield fresh, dict(self.pos)
            if done:
                return

    def _resume_after(self, at: int) -> int | None:
        """The id a stopped run read the block at `at` up to (once per run)."""
        if self.resume.get("tie_ms") != at:
            return None
        after = self.resume.pop("tie_after", None)
        self.resume.clear()
        try:
            return int(str(after))
        except ValueError:
            return None  # unreadable saved state: read the whole block

    def _at_tie(self, at: int, last: int | None, done: bool) -> None:
        pos = {k: v for k, v in self.pos.items() if k not in TIE_KEYS}
        if last is not None and at >= pos.get("ms", at):
            pos["ms"], pos["id"] = at, str(last)
        if not done and last is not None:
            pos["tie_ms"], pos["tie_after"] = at, str(last)
        self.pos = pos

    def _handed_over(self, raw: Any) -> bool:
        ms = modified_ms(raw)
        return ms is not None and ms == self.seen_ms and str(raw.get("id")) in self.seen

    def _hand_over(self, results: list[Any]) -> list[Any]:
        """The rows not handed over yet in this run; moves the position to the newest."""
        fresh = []
        for raw in results:
            ms = modified_ms(raw)
            if ms is None:  # unreadable: converting it reports the problem
                fresh.append(raw)
                continue
            if self._handed_over(raw):
                continue
            fresh.append(raw)
            ident = str(raw.get("id"))
            if self.seen_ms is None or ms > self.seen_ms:
                self.seen_ms, self.seen = ms, set()
            if ms == self.seen_ms:
                self.seen.add(ident)
            if ms >= self.pos.get("ms", -1):
                tie = self.pos.get("tie_ms")
                keep = tie is not None and ms <= tie  # a part-read block still ahead
                self.pos = {"ms": ms, "id": ident} | (
                    {k: self.pos[k] for k in TIE_KEYS if k in self.pos} if keep else {}
                )
        return fresh


def _filter(prop: str, op: str, value: int) -> dict[str, str]:
    return {"propertyName": prop, "operator": op, "value": str(value)}


def modified_ms(raw: Any) -> int | None:
    if not isinstance(raw, dict):
        return None
    p = raw.get("properties")
    p = p if isinstance(p, dict) else {}
    try:
        at = parse.instant(p.get(MODIFIED) or raw.get("updatedAt"), "modified")
    except parse.BadValue:
        return None
    return int(at.timestamp() * 1000) if at else None


def object_id(raw: Any) -> int | None:
    if not isinstance(raw, dict):
        return None
    try:
        return int(str(raw.get("id")))
    except ValueError:
        return None


def next_after(body: dict[str, Any]) -> str | None:
    nxt = (body.get("paging") or {}).get("next") or {}
    after = nxt.get("after")
    return str(after) if after not in (None, "") else None
