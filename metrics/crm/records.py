"""What connectors yield: normalized CRM records, pages, cursors and record problems.

Every connector translates its vendor's shapes into these records, so the sync engine never
sees a vendor field. Vocabulary (the metrics package counts on it):

- activity `kind`: ``call | email | meeting | task``
- call `outcome`: ``connected | no_answer | voicemail | busy | wrong_number | other``
- meeting `outcome`: ``scheduled | completed | cancelled | no_show``; `booked_at` is when
  the meeting was created, `occurred_at` its start
- deal `deal_type`: ``new | renewal | expansion`` (or None); `amount` + `currency` as the
  CRM gave them, `amount` None when missing (never zero)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Literal, Protocol, TypeVar

ObjectName = Literal["owners", "deals", "activities"]
OBJECTS: tuple[ObjectName, ...] = ("owners", "deals", "activities")
ACTIVITY_KINDS = frozenset({"call", "email", "meeting", "task"})
MEETING_OUTCOMES = frozenset({"scheduled", "completed", "cancelled", "no_show"})
DEAL_TYPES = frozenset({"new", "renewal", "expansion"})


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    external_id: str
    email: str | None
    name: str | None
    active: bool = True
    modified_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StageEntry:
    stage: str
    entered_at: dt.datetime


@dataclass(frozen=True, slots=True)
class DealRecord:
    external_id: str
    owner_external_id: str | None
    created_at: dt.datetime
    modified_at: dt.datetime
    name: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    deal_type: str | None = None
    lead_source: str | None = None
    close_date: dt.date | None = None
    closed_at: dt.datetime | None = None
    is_closed: bool = False
    is_won: bool = False
    deleted: bool = False
    # The full stage history when the CRM exposes it (replaces what is stored); None means
    # "unknown": the engine appends the current stage when it changes, entered at
    # `stage_changed_at` (else `modified_at`).
    stage_history: tuple[StageEntry, ...] | None = None
    stage_changed_at: dt.datetime | None = None
    extra: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    external_id: str
    kind: str
    owner_external_id: str | None
    occurred_at: dt.datetime
    modified_at: dt.datetime
    booked_at: dt.datetime | None = None
    outcome: str | None = None
    direction: str | None = None
    duration_seconds: int | None = None
    deal_external_id: str | None = None
    subject: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A record that could not be used: where it came from and why. It is skipped, the rest
    of its page still loads."""

    object: str
    reason: str
    external_id: str | None = None
    location: str | None = None  # "deals.csv:14", "GET /crm/v3/objects/deals/search"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        ident = f"{self.object} {self.external_id}" if self.external_id else self.object
        return f"{where}{ident}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a sync of one object got: the (modified, external id) of the last record
    durably stored, plus connector-specific resume state (JSON-able)."""

    modified_at: dt.datetime | None = None
    external_id: str | None = None
    state: dict[str, Any] | None = None

    def is_after(self, modified_at: dt.datetime, external_id: str) -> bool:
        """True if a record at (modified_at, external_id) is already covered by the cursor."""
        if self.modified_at is None:
            return False
        if modified_at != self.modified_at:
            return modified_at < self.modified_at
        return self.external_id is not None and external_id <= self.external_id


R = TypeVar("R", OwnerRecord, DealRecord, ActivityRecord)


@dataclass(slots=True)
class Page(Generic[R]):
    """One batch from a connector. `cursor` is where to resume once this page is stored."""

    records: list[R]
    cursor: Cursor
    problems: list[RecordProblem] = field(default_factory=list)


class Connector(Protocol):
    """A CRM source. Each method yields pages of records modified after `cursor`, in an
    order that makes each page's cursor safe to persist (ascending modified time, ties by
    id, or connector state that resumes exactly)."""

    source: str

    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]: ...

    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]: ...

    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]: ...

    def usage(self) -> dict[str, Any]:
        """API usage worth reporting (requests, retries, daily allocation...)."""
        ...

    def close(self) -> None: ...


def advance(cursor: Cursor, modified_at: dt.datetime, external_id: str) -> Cursor:
    """The later of `cursor` and (modified_at, external_id), keeping the state."""
    if cursor.is_after(modified_at, external_id):
        return cursor
    return Cursor(modified_at, external_id, cursor.state)
