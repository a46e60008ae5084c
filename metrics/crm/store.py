"""Bulk writes of one page of CRM records: upserts, stage history and dirty rollup days.

Service functions: they take `session` keyword-only and never commit (the sync engine owns
the per-page transaction). Existing rows are read in bulk first so that every (owner, UTC
day) an insert, update or delete touches - old and new values of `occurred_at`,
`booked_at`, `created_at`, `closed_at` - is marked in `rollup_dirty`, and records whose
`modified_at` and `deleted` did not change are skipped as unchanged.

A stored record is only replaced by one modified at the same time or later (an older
version arriving late is skipped as unchanged), or by a delete. With `compare_content`
(sources edited by hand, such as CSV, whose modified times cannot be trusted) the stored
values are compared instead: any difference replaces the row, none leaves it unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from metrics.crm.records import ActivityRecord, DealRecord, OwnerRecord
from metrics.models import Activity, CrmUser, Deal, DealStageChange

CHUNK = 900
T = TypeVar("T")


@dataclass
class PageStats:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    missing_amount: int = 0


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _insert(session: Session, table: Table) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    stmt = _insert(session, table)
    update_cols = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update_cols)
    for chunk in _chunks(rows, 2000):
        session.execute(stmt, list(chunk))


def _insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _insert(session, table).on_conflict_do_nothing()
    for chunk in _chunks(rows, 2000):
        session.execute(stmt, list(chunk))


def _dedupe(records: Iterable[T], key: Any) -> list[T]:
    """For repeated external ids within one page the newest `modified_at` wins (the last
    one among equals)."""
    kept: dict[Any, T] = {}
    for r in records:
        k = key(r)
        old = kept.get(k)
        if old is None or not _older(r, old):
            kept[k] = r
    return list(kept.values())


def _older(new: Any, old: Any) -> bool:
    """True if `new` carries an older modified time than `old` (which it must not replace)."""
    a, b = getattr(new, "modified_at", None), getattr(old, "modified_at", None)
    return a is not None and b is not None and a < b


def _skip(
    old: Any, r: Any, compare_content: bool, content: tuple[str, ...], owner: int | None
) -> bool:
    """Whether record `r` (owned by crm_users id `owner`) leaves the stored row `old` as it
    is (see the module docstring)."""
    if old is None:
        return bool(r.deleted)
    if r.deleted and not old.deleted:
        return False
    if compare_content:
        return bool(old.deleted == r.deleted and _same(old, r, content, owner))
    if old.deleted == r.deleted and old.modified_at == r.modified_at:
        return True
    return _older(r, old)


def mark_dirty(session: Session, pairs: set[tuple[int, dt.date]]) -> None:
    """Insert-or-ignore (crm_user_id, UTC day) rows for the rollup refresher (through the
    driver: SQLAlchemy's per-row parameter processing cost ~10 µs a mark)."""
    if not pairs:
        return
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO rollup_dirty (crm_user_id, day) VALUES ({mark}, {mark}) "
        "ON CONFLICT DO NOTHING",
        [(owner, day.isoformat() if sqlite else day) for owner, day in sorted(pairs)],
    )


def _days(owner: int | None, *stamps: dt.datetime | None) -> set[tuple[int, dt.date]]:
    if owner is None:
        return set()
    return {(owner, s.astimezone(dt.UTC).date()) for s in stamps if s is not None}


def owner_ids(session: Session, *, source: str, external_ids: set[str]) -> dict[str, int]:
    """crm_users ids for `external_ids`, creating bare placeholder users for unknown ones (so
    records are never dropped and the owner shows up as unmatched until it syncs)."""
    wanted = sorted(i for i in external_ids if i)
    found = _owner_ids(session, source, wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        _insert_ignore(
            session,
            _table(CrmUser),
            [{"source": source, "external_id": i, "active": True} for i in missing],
        )
        found.update(_owner_ids(session, source, missing))
    return found


def _owner_ids(session: Session, source: str, external_ids: list[str]) -> dict[str, int]:
    """The stored crm_users ids among `external_ids`, through the driver (a page's ~200
    owners cost ~3 ms a page through SQLAlchemy's expanding IN)."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    found: dict[str, int] = {}
    for chunk in _chunks(external_ids):
        found.update(
            conn.exec_driver_sql(
                f"SELECT external_id, id FROM crm_users WHERE source = {mark} "
                f"AND external_id IN ({', '.join([mark] * len(chunk))})",
                (source, *chunk),
            ).all()
        )
    return found


def store_owners(session: Session, *, source: str, records: Sequence[OwnerRecord]) -> PageStats:
    stats = PageStats()
    records = _dedupe(records, lambda r: r.external_id)
    existing: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks([r.external_id for r in records]):
        for row in session.execute(
            select(CrmUser.external_id, CrmUser.email, CrmUser.name, CrmUser.active).where(
                CrmUser.source == source, CrmUser.external_id.in_(chunk)
            )
        ):
            existing[row[0]] = tuple(row[1:])
    rows = []
    for r in records:
        email = r.email.strip() if r.email else None
        old = existing.get(r.external_id)
        if old is not None and old == (email, r.name, r.active):
            stats.unchanged += 1
            continue
        if old is None:
            stats.new += 1
        elif old[2] and not r.active:
            stats.deleted += 1
        else:
            stats.updated += 1
        rows.append(
            {
                "source": source,
                "external_id": r.external_id,
                "email": email,
                "name": r.name,
                "active": r.active,
                "modified_at": r.modified_at,
            }
        )
    _upsert(session, _table(CrmUser), rows, ["source", "external_id"])
    return stats


def _existing(
    session: Session, model: Any, source: str, external_ids: list[str], columns: tuple[str, ...]
) -> dict[str, Any]:
    """The stored rows (external id + `columns`) among `external_ids`, read in chunks: the
    old values a page replaces, for dirty marks and unchanged-record detection."""
    found: dict[str, Any] = {}
    fields = [model.external_id, *(getattr(model, c) for c in columns)]
    for chunk in _chunks(external_ids):
        query = select(*fields).where(model.source == source, model.external_id.in_(chunk))
        for row in session.execute(query):
            found[row.external_id] = row
    return found


def store_activities(
    session: Session,
    *,
    source: str,
    records: Sequence[ActivityRecord],
    compare_content: bool = False,
) -> PageStats:
    stats = PageStats()
    records = _dedupe(records, lambda r: r.external_id)
    existing = _existing(
        session,
        Activity,
        source,
        [r.external_id for r in records],
        ("owner_id", "occurred_at", "booked_at", "modified_at", "deleted")
        + (ACTIVITY_CONTENT if compare_content else ()),
    )
    owners = owner_ids(
        session, source=source, external_ids={r.owner_external_id or "" for r in records}
    )
    sqlite_db = session.get_bind().dialect.name == "sqlite"
    when = _sqlite_datetime if sqlite_db else _aware
    flag: Any = int if sqlite_db else bool
    rows: list[tuple[Any, ...]] = []
    dirty: set[tuple[int, dt.date]] = set()
    for r in records:
        old = existing.get(r.external_id)
        owner = owners.get(r.owner_external_id) if r.owner_external_id else None
        if _skip(old, r, compare_content, ACTIVITY_CONTENT, owner):
            stats.unchanged += 1
            continue
        if old is not None:
            dirty |= _days(old.owner_id, old.occurred_at, old.booked_at)
        if owner is not None:
            dirty.add((owner, _utc_day(r.occurred_at)))
            if r.booked_at is not None:
                dirty.add((owner, _utc_day(r.booked_at)))
        if old is None:
            stats.new += 1
        elif r.deleted and not old.deleted:
            stats.deleted += 1
        else:
            stats.updated += 1
        rows.append(
            (
                source,
                r.external_id,
                r.kind,
                owner,
                when(r.occurred_at),
                when(r.booked_at),
                r.outcome,
                r.direction,
                r.duration_seconds,
                r.deal_external_id,
                r.subject,
                when(r.modified_at),
                flag(r.deleted),
            )
        )
    _fast_upsert(session, "activities", ACTIVITY_COLUMNS, rows, ("source", "external_id"))
    mark_dirty(session, dirty)
    return stats


ACTIVITY_CONTENT = (
    "kind",
    "outcome",
    "direction",
    "duration_seconds",
    "deal_external_id",
    "subject",
)
DEAL_CONTENT = (
    "name",
    "pipeline",
    "amount",
    "currency",
    "deal_type",
    "lead_source",
    "close_date",
    "is_closed",
    "is_won",
)
# Compared with content too: these are read for the dirty marks anyway.
_TIMES = ("occurred_at", "booked_at", "created_at", "closed_at", "stage", "modified_at")


def _same(old: Any, r: Any, content: tuple[str, ...], owner: int | None) -> bool:
    """Whether the stored row `old` holds the record's values (owner by crm_users id)."""
    if old.owner_id != owner:
        return False
    names = content + tuple(n for n in _TIMES if hasattr(old, n))
    return all(getattr(old, n) == getattr(r, n) for n in names)


ACTIVITY_COLUMNS = (
    "source",
    "external_id",
    "kind",
    "owner_id",
    "occurred_at",
    "booked_at",
    "outcome",
    "direction",
    "duration_seconds",
    "deal_external_id",
    "subject",
    "modified_at",
    "deleted",
)


def _utc_day(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    return moment.date()


def _fast_upsert(
    session: Session,
    table: str,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    keys: tuple[str, ...],
) -> None:
    """An upsert straight through the DBAPI's executemany, for high-volume tables: the
    caller has already converted values the way the column types would (UTC datetimes as
    naive text on SQLite, aware on PostgreSQL; booleans as 0/1 on SQLite), because
    SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself."""
    if not rows:
        return
    mark = "?" if session.get_bind().dialect.name == "sqlite" else "%s"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )
    connection = session.connection()
    for chunk in _chunks(rows, 5000):
        connection.exec_driver_sql(sql, list(chunk))


def _sqlite_datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes only")
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes only")
    return value


def store_deals(
    session: Session,
    *,
    source: str,
    records: Sequence[DealRecord],
    compare_content: bool = False,
) -> PageStats:
    stats = PageStats()
    records = _dedupe(records, lambda r: r.external_id)
    existing = _existing(
        session,
        Deal,
        source,
        [r.external_id for r in records],
        ("owner_id", "created_at", "closed_at", "modified_at", "deleted", "stage")
        + (DEAL_CONTENT if compare_content else ()),
    )
    owners = owner_ids(
        session, source=source, external_ids={r.owner_external_id or "" for r in records}
    )
    rows: list[dict[str, Any]] = []
    changed: list[DealRecord] = []
    dirty: set[tuple[int, dt.date]] = set()
    for r in records:
        old = existing.get(r.external_id)
        owner = owners.get(r.owner_external_id) if r.owner_external_id else None
        if _skip(old, r, compare_content, DEAL_CONTENT, owner):
            stats.unchanged += 1
            continue
        if old is not None:
            dirty |= _days(old.owner_id, old.created_at, old.closed_at)
        dirty |= _days(owner, r.created_at, r.closed_at)
        if old is None:
            stats.new += 1
        elif r.deleted and not old.deleted:
            stats.deleted += 1
        else:
            stats.updated += 1
        if r.amount is None and not r.deleted:
            stats.missing_amount += 1
        changed.append(r)
        rows.append(
            {
                "source": source,
                "external_id": r.external_id,
                "name": r.name,
                "owner_id": owner,
                "pipeline": r.pipeline,
                "stage": r.stage,
                "amount": r.amount,
                "currency": r.currency,
                "deal_type": r.deal_type,
                "lead_source": r.lead_source,
                "created_at": r.created_at,
                "close_date": r.close_date,
                "closed_at": r.closed_at,
                "is_closed": r.is_closed,
                "is_won": r.is_won,
                "modified_at": r.modified_at,
                "deleted": r.deleted,
                "extra": r.extra,
            }
        )
    _upsert(session, _table(Deal), rows, ["source", "external_id"])
    _store_stage_history(session, source, changed, {k: v.stage for k, v in existing.items()})
    mark_dirty(session, dirty)
    return stats


def _store_stage_history(
    session: Session, source: str, changed: list[DealRecord], old_stage: dict[str, str | None]
) -> None:
    if not changed:
        return
    ids: dict[str, int] = {}
    for chunk in _chunks([r.external_id for r in changed]):
        ids.update(
            session.execute(
                select(Deal.external_id, Deal.id).where(
                    Deal.source == source, Deal.external_id.in_(chunk)
                )
            ).all()
        )
    replace = [ids[r.external_id] for r in changed if r.stage_history is not None]
    for id_chunk in _chunks(replace):
        session.execute(delete(DealStageChange).where(DealStageChange.deal_id.in_(id_chunk)))
    sqlite_db = session.get_bind().dialect.name == "sqlite"
    when = _sqlite_datetime if sqlite_db else _aware
    rows: list[tuple[Any, ...]] = []
    for r in changed:
        deal_id = ids[r.external_id]
        if r.stage_history is not None:
            seen = set()
            for entry in r.stage_history:
                if (entry.stage, entry.entered_at) not in seen:
                    seen.add((entry.stage, entry.entered_at))
                    rows.append((deal_id, entry.stage, when(entry.entered_at)))
        elif r.stage and old_stage.get(r.external_id) != r.stage:
            entered = r.stage_changed_at or (
                r.created_at if r.external_id not in old_stage else r.modified_at
            )
            rows.append((deal_id, r.stage, when(entered)))
    if rows:
        mark = "?" if sqlite_db else "%s"
        sql = (
            "INSERT INTO deal_stage_history (deal_id, stage, entered_at) "
            f"VALUES ({mark}, {mark}, {mark}) ON CONFLICT DO NOTHING"
        )
        connection = session.connection()
        for row_chunk in _chunks(rows, 5000):
            connection.exec_driver_sql(sql, list(row_chunk))
