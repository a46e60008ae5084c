"""The hot loop of rollups: read records, place them on local days, add up the bases.

Speed matters here (a full rebuild reads millions of rows), so:
- only the fields the catalog's bases read are fetched, as plain tuples; the placing timestamp
  is fetched raw (text on SQLite, a datetime on PostgreSQL) and parsed only on a cache miss;
- the local day is cached per zone and UTC hour (per UTC minute for zones with
  non-whole-hour offsets): in a whole-hour zone every UTC hour falls on one local day;
- base contributions are cached per distinct field signature (kind, outcome, ...), so the
  per-base predicates run once per signature, not once per row.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from metrics.catalog import Base, Catalog, Source
from metrics.config import MetricsConfig
from metrics.models import Activity, CrmUser, Deal, Person, TeamMembership
from metrics.rollup_zones import instant_literal

CHUNK = 500
_SLOT_SECONDS = {13: 3600, 16: 60}  # slot width in characters of SQLite text -> seconds
PRIMARY = ("occurred_at", "created_at")  # scans that count each record once
TIME_INDEXED = frozenset({("activities", "occurred_at")})  # ix_activities_occurred
TIMESTAMPS = frozenset(("occurred_at", "booked_at", "created_at", "closed_at"))


def _whole_hours(zone: ZoneInfo) -> bool:
    for year in range(2015, 2036):
        for month in (1, 4, 7, 10):
            offset = dt.datetime(year, month, 1, tzinfo=zone).utcoffset()
            if offset is None or offset.total_seconds() % 3600:
                return False
    return True


class Directory:
    """People, their zones, CRM owners and team history, loaded once per refresh."""

    def __init__(
        self, session: Session, config: MetricsConfig, owners: list[int] | None = None
    ) -> None:
        """Load everyone, or (`owners` given) only the people those CRM owners map to."""
        users = select(CrmUser.id, CrmUser.person_id).where(CrmUser.person_id.is_not(None))
        people = select(Person.id, Person.timezone_override, Person.slack_timezone)
        spans = select(
            TeamMembership.person_id,
            TeamMembership.valid_from,
            TeamMembership.valid_to,
            TeamMembership.team_key,
        ).order_by(TeamMembership.valid_from)
        self.everyone = owners is None or len(owners) > 5000  # every owner loaded
        if owners is not None and not self.everyone:
            ids = select(CrmUser.person_id).where(CrmUser.id.in_(owners)).scalar_subquery()
            users = users.where(CrmUser.person_id.in_(ids))
            people = people.where(Person.id.in_(ids))
            spans = spans.where(TeamMembership.person_id.in_(ids))
        self.owner_person: dict[int, int] = {}
        self.person_owners: dict[int, list[int]] = defaultdict(list)
        for user_id, person_id in session.execute(users):
            if person_id is not None:
                self.owner_person[user_id] = person_id
                self.person_owners[person_id].append(user_id)
        self.zone: dict[int, ZoneInfo] = {}
        zones: dict[str, ZoneInfo] = {}
        for person_id, override, slack_tz in session.execute(people):
            name = override or slack_tz or config.org.timezone  # as directory.person_timezone
            if name not in zones:
                zones[name] = ZoneInfo(name)
            self.zone[person_id] = zones[name]
        self._hourly = {id(z): _whole_hours(z) for z in zones.values()}
        # person -> (zone key, how many leading characters of a SQLite timestamp fix the day)
        self.slot_of = {p: (id(z), 13 if self._hourly[id(z)] else 16) for p, z in self.zone.items()}
        self.spans: dict[int, list[tuple[dt.date, dt.date | None, str]]] = defaultdict(list)
        for person_id, valid_from, valid_to, team_key in session.execute(spans):
            self.spans[person_id].append((valid_from, valid_to, team_key))
        self.day_cache: dict[tuple[int, Any], dt.date] = {}
        # per (zone, day): every person of a zone shares them
        self._spans: dict[tuple[int, dt.date], tuple[dt.datetime, dt.datetime]] = {}
        self._local_days: dict[tuple[int, dt.date], frozenset[dt.date]] = {}

    def team_on(self, person_id: int, day: dt.date) -> str | None:
        for start, end, team in self.spans.get(person_id, ()):
            if start <= day and (end is None or day < end):
                return team
        return None

    def local_day(self, person_id: int, raw: str | dt.datetime) -> dt.date:
        """The local calendar day of a raw UTC timestamp (SQLite text or aware datetime)."""
        zone = self.zone[person_id]
        zid = id(zone)
        hourly = self._hourly[zid]
        if isinstance(raw, str):
            slot: Any = raw[:13] if hourly else raw[:16]
        else:
            slot = int(raw.timestamp()) // (3600 if hourly else 60)
        key = (zid, slot)
        day = self.day_cache.get(key)
        if day is None:
            when = stored_instant(raw)
            day = when.astimezone(zone).date()
            self.day_cache[key] = day
        return day

    def utc_span(self, person_id: int, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC of the person's local `day` (23 or 25 hours on DST days)."""
        zone = self.zone[person_id]
        key = (id(zone), day)
        span = self._spans.get(key)
        if span is None:
            start = dt.datetime.combine(day, dt.time(), zone)
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
            span = self._spans[key] = (start.astimezone(dt.UTC), end.astimezone(dt.UTC))
        return span

    def local_days_of_utc_day(self, person_id: int, day: dt.date) -> frozenset[dt.date]:
        """The person's local days that UTC `day` overlaps (one or two)."""
        zone = self.zone[person_id]
        key = (id(zone), day)
        days = self._local_days.get(key)
        if days is None:
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            last = start + dt.timedelta(days=1, microseconds=-1)
            days = frozenset((start.astimezone(zone).date(), last.astimezone(zone).date()))
            self._local_days[key] = days
        return days


def stored_instant(raw: str | dt.datetime) -> dt.datetime:
    """A stored UTC timestamp as an aware datetime: SQLite's text, or the driver's datetime."""
    if isinstance(raw, dt.datetime):
        return raw if raw.tzinfo is not None else raw.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)


Sums = dict[tuple[int, dt.date], dict[str, float]]


class Scanner:
    """Adds up bases per (person, local day) from records, optionally only for `keep`."""

    def __init__(
        self,
        session: Session,
        catalog: Catalog,
        directory: Directory,
        keep: set[tuple[int, dt.date]] | None,
    ) -> None:
        self.session, self.catalog, self.directory, self.keep = session, catalog, directory, keep
        self.values: Sums = {}
        self.unmapped = 0

    def scan(
        self,
        *,
        owners: list[int] | None,
        lo: dt.datetime | None,
        hi: dt.datetime | None,
        only: set[tuple[Source, str]] | None = None,
    ) -> None:
        """Add up the records of `owners` placed in [lo, hi), or with all three None every
        record, for every (source, date field) of the catalog or `only` those."""
        everything = owners is None and lo is None and hi is None
        if not everything and (owners is None or lo is None or hi is None):
            raise ValueError("scan: give owners, lo and hi, or none of them")
        sources: tuple[Source, ...] = ("activities", "deals")
        for source in sources:
            model: Any = Activity if source == "activities" else Deal
            for date_field in self.catalog.date_fields(source):
                if only is not None and (source, date_field) not in only:
                    continue
                bases = self.catalog.bases_for(source, date_field)
                fields = sorted({f for b in bases for f in b.fields})
                primary = date_field in PRIMARY
                if owners is None or lo is None or hi is None:
                    column = getattr(model, date_field)
                    query = select(
                        model.owner_id,
                        type_coerce(column, String),
                        *(getattr(model, f) for f in fields),
                    ).where(model.deleted.is_(False), column.is_not(None))
                    rows = self._raw_rows(query, f"rollup_{source}_{date_field}")
                    self._add(rows, bases, fields, count_unmapped=primary)
                    continue
                everyone = (source, date_field) in TIME_INDEXED and self._most(owners)
                sql_of = self._window_sql(source, date_field, fields, owners, lo, hi, everyone)
                for sql in sql_of:
                    self._add(self._driver_rows(sql), bases, fields, count_unmapped=primary)

    def _most(self, owners: list[int]) -> bool:
        """Whether `owners` are at least half of all the directory's owners."""
        return self.directory.everyone and 2 * len(owners) >= len(self.directory.owner_person)

    def _window_sql(
        self,
        source: Source,
        date_field: str,
        fields: list[str],
        owners: list[int],
        lo: dt.datetime,
        hi: dt.datetime,
        everyone: bool = False,
    ) -> Iterator[str]:
        """SELECTs of the owners' records placed in [lo, hi), as literal SQL (owner ids are
        integers, the bounds instants in the stored format): read through the driver, a row
        costs a tuple, not a SQLAlchemy row (~2 µs). SQLite reads `CHUNK` owners a
        statement; PostgreSQL all of them in one (an index scan over the array of owners).
        With `everyone` (most owners are wanted and the date field leads an index), one
        statement reads the window of every owner — the caller keeps its pairs: at 10,000
        reps, a day for nearly all of them, ~60 ms on SQLite against ~100 ms by owner."""
        sqlite = self.session.connection().dialect.name == "sqlite"
        columns = ", ".join(["owner_id", date_field, *fields])
        bounds = " AND ".join(
            f"{date_field} {op} {instant_literal(when, sqlite=sqlite)}"
            for op, when in ((">=", lo), ("<", hi))
        )
        if everyone:
            yield f"SELECT {columns} FROM {source} WHERE {bounds} AND NOT deleted"
            return
        size = CHUNK if sqlite else max(len(owners), 1)
        for group in chunks(owners, size):
            ids = ", ".join(str(int(o)) for o in group)
            yield (
                f"SELECT {columns} FROM {source} WHERE owner_id IN ({ids}) AND {bounds} "
                "AND NOT deleted"
            )

    def _driver_rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        cursor: Any = self.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql)
            yield from cursor.fetchall()
        finally:
            cursor.close()

    def _raw_rows(self, query: Any, name: str) -> Iterator[tuple[Any, ...]]:
        """All rows of a parameterless query straight from the DB-API cursor (a full rebuild
        reads millions: SQLAlchemy's per-row Result machinery would double the time).
        PostgreSQL gets a server-side cursor so rows stream instead of loading at once."""
        conn = self.session.connection()
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        dbapi: Any = conn.connection.driver_connection
        cursor = dbapi.cursor() if conn.dialect.name == "sqlite" else dbapi.cursor(name=name)
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(50_000):
                yield from batch
        finally:
            cursor.close()

    def _add(
        self,
        rows: Iterator[tuple[Any, ...]],
        bases: list[Base],
        fields: list[str],
        *,
        count_unmapped: bool,
    ) -> None:
        directory = self.directory
        owner_person, local_day = directory.owner_person, directory.local_day
        slot_of, day_cache = directory.slot_of, directory.day_cache
        keep, values = self.keep, self.values
        contributions = _contributions(bases, fields)
        cached = contributions.cache
        for row in rows:
            person_id = owner_person.get(row[0])
            if person_id is None:
                self.unmapped += count_unmapped
                continue
            raw = row[1]
            # the cached day lookup of `local_day`, inlined (hot path)
            zone_key, width = slot_of[person_id]
            if type(raw) is str:  # SQLite text
                day = day_cache.get((zone_key, raw[:width]))
            else:  # an aware datetime: the same slots in epoch hours (minutes)
                day = day_cache.get((zone_key, int(raw.timestamp()) // _SLOT_SECONDS[width]))
            if day is None:
                day = local_day(person_id, raw)
            key = (person_id, day)
            if keep is not None and key not in keep:
                continue
            signature = row[2:]
            parts = cached.get(signature)
            if parts is None:
                parts = contributions(signature)
            if parts:
                slot = values.get(key)
                if slot is None:
                    slot = values[key] = {}
                for name, value in parts:
                    slot[name] = slot.get(name, 0.0) + value


class _Contributions:
    """Base contributions of a field signature, cached (`cache` is read inline by the scan)."""

    def __init__(self, bases: list[Base], fields: list[str]) -> None:
        self.bases, self.fields = bases, fields
        self.cache: dict[tuple[Any, ...], list[tuple[str, float]]] = {}

    def __call__(self, signature: tuple[Any, ...]) -> list[tuple[str, float]]:
        found = self.cache.get(signature)
        if found is None:
            row = {
                f: stored_instant(v) if f in TIMESTAMPS and isinstance(v, str) else v
                for f, v in zip(self.fields, signature, strict=True)
            }
            found = []
            for base in self.bases:
                value = base.value(row)
                if value is not None:
                    found.append((base.name, value))
            if len(self.cache) < 200_000:
                self.cache[signature] = found
        return found


def _contributions(bases: list[Base], fields: list[str]) -> _Contributions:
    return _Contributions(bases, fields)


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
