"""CSV import: deals and activities (and optionally owners) from a folder of exports.

Files in `DRUMBEAT_CSV_DIR`: ``deals.csv``, ``activities.csv``, ``owners.csv`` (each
optional, at least one of the first two). Headers are matched case-insensitively, with the
aliases in `COLUMNS` (the mapping is documented in docs/crm.md). A bad row is reported as
``file:line: reason`` and skipped; every good row still loads.

Incremental: a file whose content (SHA-256) has not changed since the last sync is not
read again. A changed file is re-read whole; rows keep their `modified_at` column if they
have one, else the file's modification time; the store compares each row with what it
holds (`compare_content`), so an edit that leaves those times alone still lands. Rows that
disappear from a file are not deleted (set ``deleted`` to true instead). Naive timestamps
are read in `timezone` (default UTC). Files must be UTF-8; `;`- or tab-separated files are
recognised from their header line.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from metrics.crm import parse
from metrics.crm.errors import CrmConfigError
from metrics.crm.records import (
    ACTIVITY_KINDS,
    ActivityRecord,
    Cursor,
    DealRecord,
    OwnerRecord,
    Page,
    RecordProblem,
)

COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "deals": {
        "id": ("id", "deal_id", "external_id"),
        "name": ("name", "deal_name", "title"),
        "owner_id": ("owner_id", "owner"),
        "owner_email": ("owner_email", "owner email"),
        "pipeline": ("pipeline",),
        "stage": ("stage", "deal_stage"),
        "amount": ("amount", "value"),
        "currency": ("currency",),
        "deal_type": ("deal_type", "type"),
        "lead_source": ("lead_source", "source"),
        "created_at": ("created_at", "created", "create_date"),
        "close_date": ("close_date", "expected_close_date"),
        "closed_at": ("closed_at",),
        "status": ("status",),
        "modified_at": ("modified_at", "updated_at", "last_modified"),
        "deleted": ("deleted", "is_deleted"),
    },
    "activities": {
        "id": ("id", "activity_id", "external_id"),
        "kind": ("kind", "type", "activity_type"),
        "owner_id": ("owner_id", "owner"),
        "owner_email": ("owner_email", "owner email"),
        "occurred_at": ("occurred_at", "timestamp", "date", "start"),
        "booked_at": ("booked_at", "created_at"),
        "outcome": ("outcome", "disposition", "status"),
        "direction": ("direction",),
        "duration_seconds": ("duration_seconds", "duration"),
        "deal_id": ("deal_id",),
        "subject": ("subject", "title"),
        "modified_at": ("modified_at", "updated_at"),
        "deleted": ("deleted", "is_deleted"),
    },
    "owners": {
        "id": ("id", "owner_id"),
        "email": ("email",),
        "name": ("name",),
        "active": ("active", "is_active"),
    },
}
REQUIRED = {
    "deals": ("id", "created_at"),
    "activities": ("id", "kind", "occurred_at"),
    "owners": ("id",),
}
PAGE = 5000
R = TypeVar("R")


class CsvConnector:
    source = "csv"
    # Rows are edited by hand, often without touching `modified_at` (or the file's mtime):
    # the store compares stored values with each row instead of trusting modified times.
    compare_content = True

    def __init__(
        self, folder: Path, *, default_currency: str | None = "USD", timezone: str = "UTC"
    ) -> None:
        if not folder.is_dir():
            raise CrmConfigError(f"DRUMBEAT_CSV_DIR {folder} is not a folder")
        if not any((folder / f"{name}.csv").exists() for name in ("deals", "activities")):
            raise CrmConfigError(f"{folder} has neither deals.csv nor activities.csv")
        self.folder = folder
        self.default_currency = default_currency
        self.zone = ZoneInfo(timezone)
        self._emails: dict[str, str] = {}  # owner external id -> email seen in rows
        self.files_read: list[str] = []

    def usage(self) -> dict[str, Any]:
        return {"files_read": list(self.files_read)}

    def close(self) -> None:
        return None

    # ---------------------------------------------------------------- objects
    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]:
        # Owners named only by email in deals/activities become owners too, so they map to
        # people by email. Scan those files first (cheap) to collect them.
        for name in ("deals", "activities"):
            for row, _line in self._rows(name)[1]:
                owner_id, email = self._owner(row)
                if owner_id and email:
                    self._emails.setdefault(owner_id, email)
        records = [OwnerRecord(i, e, None, True, None) for i, e in sorted(self._emails.items())]
        yield from self._read("owners", cursor, self._owner_record, extra=records)

    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]:
        return self._read("deals", cursor, self._deal)

    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]:
        return self._read("activities", cursor, self._activity)

    # ---------------------------------------------------------------- reading
    def _rows(self, name: str) -> tuple[Path, list[tuple[dict[str, str], int]]]:
        path = self.folder / f"{name}.csv"
        if not path.exists():
            return path, []
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                delimiter = _delimiter(handle.readline())
                handle.seek(0)
                reader = csv.DictReader(handle, delimiter=delimiter)
                mapping = self._mapping(name, path, reader.fieldnames or [])
                rows = []
                for raw in reader:
                    row = {key: (raw.get(col) or "").strip() for key, col in mapping.items()}
                    rows.append((row, reader.line_num))
        except UnicodeDecodeError as exc:
            raise CrmConfigError(
                f"{path.name} is not UTF-8 (byte {exc.object[exc.start]:#04x} at offset "
                f'{exc.start}): save it as UTF-8 ("CSV UTF-8" in Excel)'
            ) from None
        return path, rows

    def _mapping(self, name: str, path: Path, headers: Sequence[str]) -> dict[str, str]:
        lowered = {h.strip().lower(): h for h in headers if h}
        mapping = {}
        for key, aliases in COLUMNS[name].items():
            for alias in aliases:
                if alias in lowered:
                    mapping[key] = lowered[alias]
                    break
        missing = [k for k in REQUIRED[name] if k not in mapping]
        if missing:
            raise CrmConfigError(
                f"{path.name}: missing column(s) {', '.join(missing)} "
                f"(accepted names: {'; '.join('/'.join(COLUMNS[name][k]) for k in missing)})"
            )
        return mapping

    def _read(
        self,
        name: str,
        cursor: Cursor,
        convert: Callable[[dict[str, str], dt.datetime], R],
        extra: list[Any] | None = None,
    ) -> Iterator[Page[Any]]:
        path = self.folder / f"{name}.csv"
        state = dict(cursor.state or {})
        if not path.exists():
            if extra:
                yield Page(extra, Cursor(cursor.modified_at, None, state))
            return
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if state.get(path.name) == digest and not extra:
            return
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
        self.files_read.append(path.name)
        _, rows = self._rows(name)
        records: list[Any] = list(extra or [])
        problems: list[RecordProblem] = []
        for index, (row, line) in enumerate(rows):
            try:
                records.append(convert(row, mtime))
            except Exception as exc:  # one bad row never sinks the file
                reason = str(exc) if isinstance(exc, parse.BadValue) else _unexpected(exc)
                problems.append(
                    RecordProblem(name, reason, row.get("id") or None, f"{path.name}:{line}")
                )
            last = index == len(rows) - 1
            if len(records) >= PAGE or last:
                if last:
                    state[path.name] = digest
                yield Page(
                    records,
                    Cursor(mtime if last else cursor.modified_at, None, dict(state)),
                    problems,
                )
                records, problems = [], []
        if not rows:
            state[path.name] = digest
            yield Page(records, Cursor(mtime, None, state))

    # ---------------------------------------------------------------- rows
    def _when(self, value: str, field: str, *, required: bool = False) -> dt.datetime | None:
        if not value:
            if required:
                raise parse.BadValue(f"{field} is empty")
            return None
        if len(value) == 10 and value[4] == "-":  # a bare date: midday, same day everywhere
            day = parse.day(value, field)
            assert day is not None
            return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise parse.BadValue(f"{field} {value!r} is not an ISO 8601 date-time") from None
        parse.check_year(moment, field, value)  # before converting zones (overflows)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(dt.UTC)

    def _owner(self, row: dict[str, str]) -> tuple[str | None, str | None]:
        email = row.get("owner_email", "").lower() or None
        owner = row.get("owner_id") or None
        if owner and "@" in owner:
            owner, email = owner.lower(), email or owner.lower()
        return owner or email, email

    def _owner_record(self, row: dict[str, str], mtime: dt.datetime) -> OwnerRecord:
        if not row.get("id"):
            raise parse.BadValue("id is empty")
        active = parse.flag(row["active"]) if row.get("active") else True
        return OwnerRecord(
            row["id"], row.get("email") or None, row.get("name") or None, active, mtime
        )

    def _deal(self, row: dict[str, str], mtime: dt.datetime) -> DealRecord:
        if not row.get("id"):
            raise parse.BadValue("id is empty")
        created = self._when(row.get("created_at", ""), "created_at", required=True)
        assert created is not None
        status = row.get("status", "").lower()
        if status and status not in ("open", "won", "lost"):
            raise parse.BadValue(f"status {row['status']!r} is not open, won or lost")
        closed_at = self._when(row.get("closed_at", ""), "closed_at")
        closed = status in ("won", "lost")
        if closed and closed_at is None:
            raise parse.BadValue(f"status {status} needs closed_at")
        currency = parse.currency(row.get("currency") or None, None)
        amount, named = parse.amount(row.get("amount"), "amount", currency)
        if currency is None and named is not None:  # "€1.200,00" with no currency column
            if named != "$":
                currency = named
            elif self.default_currency not in parse.DOLLARS:
                raise parse.BadValue(f"amount {row.get('amount')!r}: which dollar? add currency")
        owner, _email = self._owner(row)
        return DealRecord(
            external_id=row["id"],
            owner_external_id=owner,
            created_at=created,
            modified_at=self._when(row.get("modified_at", ""), "modified_at") or mtime,
            name=row.get("name") or None,
            pipeline=row.get("pipeline") or None,
            stage=row.get("stage") or status or None,
            amount=amount,
            currency=currency or self.default_currency,
            deal_type=parse.deal_type(row.get("deal_type")),
            lead_source=row.get("lead_source") or None,
            close_date=parse.day(row.get("close_date") or None, "close_date")
            or (closed_at.date() if closed_at else None),
            closed_at=closed_at if closed else None,
            is_closed=closed,
            is_won=status == "won",
            deleted=parse.flag(row.get("deleted")),
        )

    def _activity(self, row: dict[str, str], mtime: dt.datetime) -> ActivityRecord:
        if not row.get("id"):
            raise parse.BadValue("id is empty")
        kind = row.get("kind", "").lower()
        if kind not in ACTIVITY_KINDS:
            raise parse.BadValue(f"kind {row.get('kind')!r} is not call, email, meeting or task")
        occurred = self._when(row.get("occurred_at", ""), "occurred_at", required=True)
        assert occurred is not None
        outcome = row.get("outcome") or None
        if kind == "call":
            outcome = parse.call_outcome(outcome)
        elif kind == "meeting":
            outcome = parse.meeting_outcome(outcome) or "scheduled"
        owner, _email = self._owner(row)
        return ActivityRecord(
            external_id=row["id"],
            kind=kind,
            owner_external_id=owner,
            occurred_at=occurred,
            modified_at=self._when(row.get("modified_at", ""), "modified_at") or mtime,
            booked_at=self._when(row.get("booked_at", ""), "booked_at")
            if kind == "meeting"
            else None,
            outcome=outcome,
            direction=parse.direction(row.get("direction") or None),
            duration_seconds=parse.duration(row.get("duration_seconds"), "duration_seconds"),
            deal_external_id=row.get("deal_id") or None,
            subject=row.get("subject") or None,
            deleted=parse.flag(row.get("deleted")),
        )


def _delimiter(header: str) -> str:
    """`,` unless the header line is plainly split by `;` or tabs (European Excel exports
    use `;` because `,` is their decimal mark)."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


def _unexpected(exc: Exception) -> str:
    return f"unreadable row ({type(exc).__name__}: {str(exc)[:200]})"
