"""How the in-database rollup groups records: by *signature*, with per-record terms.

The catalog's bases are Python callables over a few fields of a record. The in-database
rollup (`metrics.rollup_sql`) evaluates them once per distinct combination of those fields
(a signature) and joins the results to the records. Amounts and timestamps would make
nearly every record its own signature, so a field is grouped by whether it is NULL only
(*flagged*) when every base reading it declares that it reads it so (`Base.nullness`), or
through a term its value is proportional to (`Base.term`: the amount, a duration, the days
from creation to close). A term's value is then computed per record in SQL and multiplies
what the base gives with the term at 1.

Each signature's bases are evaluated on two stand-in rows (terms at 1, then at 2, with
different instants): a base without a term must give the same value on both, one with a
term twice the value. A base that does not (a declaration that does not hold) makes the
record kind fall back to the Python scan, which reads every field as it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from metrics.catalog import TERM_FIELDS, Base
from metrics.rollup_scan import TIMESTAMPS, stored_instant

log = logging.getLogger(__name__)

_AT = (
    dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    dt.datetime(2011, 7, 8, 9, 10, 11, tzinfo=dt.UTC),
)


def _term_sql(term: str, *, sqlite: bool) -> str:
    """SQL for a term of record `a`, equal to the Python value to the last bit (the Python
    scan computes the same numbers): amounts and durations as floats; the cycle from the
    microseconds between the two instants, over 1e6, over 86,400, at least 0."""
    if term in ("amount", "duration_seconds"):
        return f"a.{term}" if sqlite else f"CAST(a.{term} AS FLOAT8)"
    if term != "cycle_days":
        raise ValueError(f"unknown term {term!r}")
    if sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'

        def whole(f: str) -> str:
            return f"CAST(strftime('%s', substr(a.{f}, 1, 19)) AS INTEGER)"

        def fraction(f: str) -> str:
            return f"CAST(substr(a.{f}, 21, 6) AS INTEGER)"

        micros = (
            f"(({whole('closed_at')} - {whole('created_at')}) * 1000000 "
            f"+ {fraction('closed_at')} - {fraction('created_at')})"
        )
        return f"MAX(0.0, {micros} / 1000000.0 / 86400.0)"
    return (
        "GREATEST(0.0, CAST(EXTRACT(EPOCH FROM a.closed_at) - EXTRACT(EPOCH FROM a.created_at) "
        "AS FLOAT8) / 86400.0)"
    )


class Signatures:
    """The signature of a record kind's bases: which fields group by value, which by being
    NULL, and what each base contributes per signature (with its term, if any)."""

    def __init__(self, bases: list[Base], *, sqlite: bool) -> None:
        self.bases, self.sqlite = bases, sqlite
        self.fields = sorted({f for b in bases for f in b.fields})
        # a field is flagged when every base reading it reads its nullness or its term
        self.flagged = {
            f
            for f in self.fields
            if (f in TIMESTAMPS or any(f in _term_fields(b) for b in bases))
            and all(f in b.nullness or f in _term_fields(b) for b in bases if f in b.fields)
        }
        self.term_of = {
            b.name: b.term
            for b in bases
            if b.term and all(f in self.flagged for f in TERM_FIELDS[b.term])
        }
        self.terms = sorted(set(self.term_of.values()))

    def columns(self) -> list[str]:
        """SQL of the signature's columns for record `a`: values, or 1/0 for NULL/not."""
        return [
            f"CASE WHEN a.{f} IS NULL THEN 1 ELSE 0 END" if f in self.flagged else f"a.{f}"
            for f in self.fields
        ]

    def value_sql(self) -> str:
        """SQL of a record's contribution: `c.value` times its term, if it has one."""
        if not self.terms:
            return "c.value"
        cases = " ".join(
            f"WHEN {i} THEN c.value * {_term_sql(t, sqlite=self.sqlite)}"
            for i, t in enumerate(self.terms, start=1)
        )
        return f"CASE c.term {cases} ELSE c.value END"

    def contributions(self, signature: tuple[Any, ...]) -> list[tuple[str, float, int]] | None:
        """(base, value, term number: 0 for none) of one signature; None when a base does
        not behave as declared on the stand-ins."""
        rows = [self._stand_in(signature, i) for i in (0, 1)]
        found = []
        for base in self.bases:
            one, two = (base.value(r) for r in rows)
            term = self.term_of.get(base.name)
            if term is None:
                ok = one == two
            else:
                ok = (one is None and two is None) or (
                    one is not None and two is not None and two == 2 * one
                )
            if not ok:
                log.warning(
                    "rollup base %s does not read its fields as declared; its record kind "
                    "is rolled up in Python",
                    base.name,
                )
                return None
            if one is not None:
                found.append((base.name, one, 0 if term is None else self.terms.index(term) + 1))
        return found

    def _stand_in(self, signature: tuple[Any, ...], variant: int) -> dict[str, Any]:
        """The record a signature stands for: flagged fields that are not NULL at stand-in
        values, terms at 1 (variant 0) or 2 (variant 1)."""
        row: dict[str, Any] = {}
        at = _AT[variant]
        for field, value in zip(self.fields, signature, strict=True):
            if field not in self.flagged:
                text = field in TIMESTAMPS and isinstance(value, str)
                row[field] = stored_instant(value) if text else value
            elif value:  # NULL
                row[field] = None
            elif field == "closed_at":  # a cycle of 1 or 2 days from `at`
                row[field] = at + dt.timedelta(days=variant + 1)
            elif field in TIMESTAMPS:
                row[field] = at
            else:
                row[field] = variant + 1
        return row


def _term_fields(base: Base) -> tuple[str, ...]:
    return TERM_FIELDS[base.term] if base.term else ()
