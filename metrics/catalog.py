"""The metric catalog: every metric the org can look up, and how it is computed.

A metric is either *additive* (a count or a sum: its value over any period, person, team or
org is the sum of daily rollup rows) or a *ratio of sums* (numerator bases summed ÷
denominator bases summed over the whole scope and period — never an average of daily or
per-person ratios). Rollups store only additive *bases*, one row per (person, base, local day):
the visible additive metrics themselves plus hidden helper bases whose names contain a dot
(``bookings.n``, ``sales_cycle_days.sum``, ``demos.sum``) so they can never clash with a
configured name.

`build_catalog(config)` turns built-ins (`metrics.builtins`) plus `[[metrics]]` into a
`Catalog`; a bad custom metric raises `CatalogError` naming the metric and field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from metrics.builtins import BUILTIN_METRICS
from metrics.config import CurrencyConfig, MetricConfig, MetricsConfig

Source = Literal["activities", "deals"]
Row = Mapping[str, Any]
PIPELINE_COVERAGE = "pipeline_coverage"

ACTIVITY_FIELDS = (
    "kind",
    "outcome",
    "direction",
    "duration_seconds",
    "subject",
    "source",
    "deal_external_id",
)
DEAL_FIELDS = (
    "name",
    "pipeline",
    "stage",
    "amount",
    "currency",
    "deal_type",
    "lead_source",
    "source",
    "is_closed",
    "is_won",
)
DATE_FIELDS: dict[Source, tuple[str, ...]] = {
    "activities": ("occurred_at", "booked_at"),
    "deals": ("created_at", "closed_at"),
}


class CatalogError(ValueError):
    """A metric definition that cannot be computed; the message names metric and field.

    `metric` and `field` say where in `[[metrics]]` the problem is, so config validation
    can report it as ``metrics[i].field``.
    """

    def __init__(self, message: str, *, metric: str, field: str) -> None:
        super().__init__(message)
        self.metric = metric
        self.field = field


class UnknownMetric(KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        close = [k for k in known if name[:4] in k][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(f"unknown metric {name!r}{hint}")
        self.name = name


@dataclass(frozen=True)
class Base:
    """An additive daily quantity stored in `metric_daily` under `name`.

    `value(row)` returns the row's contribution or None to skip it (filtered out, or an
    amount that cannot be converted to the reporting currency).
    """

    name: str
    source: Source
    date_field: str
    value: Callable[[Row], float | None]
    fields: tuple[str, ...] = ()  # the row fields `value` reads (rollups fetch only these)
    # How `value` reads some of `fields`, so the in-database rollup can group records by
    # the other fields alone (`metrics.rollup_sql`): `term` (a key of TERM_FIELDS) when the
    # value is proportional to it — value(row) = value(row with the term at 1) x term(row)
    # — and `nullness`: fields read only for being None or not.
    term: str | None = None
    nullness: tuple[str, ...] = ()


# The record fields each term reads; a term's value is computed in SQL by rollup_sql.
TERM_FIELDS: dict[str, tuple[str, ...]] = {
    "amount": ("amount",),
    "duration_seconds": ("duration_seconds",),
    "cycle_days": ("created_at", "closed_at"),  # max(0, closed - created) in days
}


@dataclass(frozen=True)
class MetricDef:
    name: str
    label: str
    kind: Literal["input", "output"]
    unit: str
    description: str
    numerator: tuple[str, ...]  # bases summed
    denominator: tuple[str, ...] = ()  # bases summed; empty = additive metric
    scale: float = 1.0
    higher_is_better: bool = True
    special: str | None = None  # computed outside rollups (pipeline coverage)
    excluded_base: str | None = None  # count of rows left out (unconvertible amounts)

    @property
    def additive(self) -> bool:
        return not self.denominator and self.special is None

    @property
    def bases(self) -> tuple[str, ...]:
        extra = (self.excluded_base,) if self.excluded_base else ()
        return self.numerator + self.denominator + extra


@dataclass(frozen=True)
class Catalog:
    metrics: dict[str, MetricDef]  # config order first, then remaining built-ins
    bases: dict[str, Base]

    def get(self, name: str) -> MetricDef:
        try:
            return self.metrics[name]
        except KeyError:
            raise UnknownMetric(name, list(self.metrics)) from None

    def bases_for(self, source: Source, date_field: str) -> list[Base]:
        return [b for b in self.bases.values() if (b.source, b.date_field) == (source, date_field)]

    def date_fields(self, source: Source) -> list[str]:
        return sorted({b.date_field for b in self.bases.values() if b.source == source})


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def currency_symbol(code: str) -> str:
    """What goes before an amount in `code`: "$", "€", "£", else the code and a space."""
    return CURRENCY_SYMBOLS.get(code, code + " ")


def money(currency: CurrencyConfig) -> Callable[[Row], float | None]:
    """Row amount in the reporting currency, or None when missing or without a rate."""

    def convert(row: Row) -> float | None:
        amount = row.get("amount")
        if amount is None:
            return None
        code = row.get("currency") or currency.reporting
        if code == currency.reporting:
            return float(amount)
        rate = currency.rates.get(code)
        return None if rate is None else float(amount) * rate

    return convert


def _one(row: Row) -> float | None:
    return 1.0


def _when(
    pred: Callable[[Row], bool], value: Callable[[Row], float | None] = _one
) -> Callable[[Row], float | None]:
    return lambda row: value(row) if pred(row) else None


def _cycle_days(row: Row) -> float | None:
    created, closed = row.get("created_at"), row.get("closed_at")
    if created is None or closed is None:
        return None
    return max(0.0, float((closed - created).total_seconds()) / 86400.0)


def _builtin_bases(currency: CurrencyConfig) -> list[Base]:
    amount = money(currency)

    def act(kind: str) -> Callable[[Row], bool]:
        return lambda r: r["kind"] == kind

    def won(r: Row) -> bool:
        return bool(r["is_won"]) and r["closed_at"] is not None

    def lost(r: Row) -> bool:
        return not r["is_won"] and bool(r["is_closed"]) and r["closed_at"] is not None

    bases = [
        Base("calls", "activities", "occurred_at", _when(act("call"))),
        Base(
            "connected_calls",
            "activities",
            "occurred_at",
            _when(lambda r: r["kind"] == "call" and r["outcome"] == "connected"),
        ),
        Base(
            "emails",
            "activities",
            "occurred_at",
            _when(lambda r: r["kind"] == "email" and r["direction"] != "inbound"),
        ),
        Base(
            "meetings_booked",
            "activities",
            "booked_at",
            _when(act("meeting")),
        ),
        Base(
            "meetings_held",
            "activities",
            "occurred_at",
            _when(lambda r: r["kind"] == "meeting" and r["outcome"] == "completed"),
        ),
        Base("opportunities_created", "deals", "created_at", lambda r: 1.0),
        Base("pipeline_created", "deals", "created_at", amount),
        Base(
            "pipeline_created.excluded",
            "deals",
            "created_at",
            lambda r: 1.0 if amount(r) is None else None,
        ),
        Base("deals_won", "deals", "closed_at", _when(won)),
        Base("deals_lost", "deals", "closed_at", _when(lost)),
        Base("bookings", "deals", "closed_at", _when(won, amount)),
        Base("bookings.n", "deals", "closed_at", _when(lambda r: won(r) and amount(r) is not None)),
        Base(
            "bookings.excluded",
            "deals",
            "closed_at",
            _when(lambda r: won(r) and amount(r) is None),
        ),
        Base("sales_cycle_days.sum", "deals", "closed_at", _when(won, _cycle_days)),
    ]
    return [
        replace(
            b, fields=_BUILTIN_FIELDS[(b.source, b.date_field)], **_BUILTIN_READS.get(b.name, {})
        )
        for b in bases
    ]


_DEAL_TIMES = ("created_at", "closed_at")
# How the deal bases read their (per record kind) fields: see Base.term and Base.nullness.
_BUILTIN_READS: dict[str, dict[str, Any]] = {
    "opportunities_created": {"nullness": ("amount", "currency")},  # reads neither
    "pipeline_created": {"term": "amount"},
    "pipeline_created.excluded": {"nullness": ("amount",)},
    "deals_won": {"nullness": ("amount", *_DEAL_TIMES)},
    "deals_lost": {"nullness": ("amount", *_DEAL_TIMES)},
    "bookings": {"term": "amount", "nullness": _DEAL_TIMES},
    "bookings.n": {"nullness": ("amount", *_DEAL_TIMES)},
    "bookings.excluded": {"nullness": ("amount", *_DEAL_TIMES)},
    "sales_cycle_days.sum": {"term": "cycle_days", "nullness": ("amount",)},
}


_BUILTIN_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("activities", "occurred_at"): ("kind", "outcome", "direction"),
    ("activities", "booked_at"): ("kind",),
    ("deals", "created_at"): ("amount", "currency"),
    ("deals", "closed_at"): (
        "amount",
        "currency",
        "is_closed",
        "is_won",
        "created_at",
        "closed_at",
    ),
}


_BUILTIN_FORMULAS: dict[str, dict[str, Any]] = {
    "pipeline_created": {"excluded_base": "pipeline_created.excluded"},
    "bookings": {"excluded_base": "bookings.excluded"},
    "win_rate": {"numerator": ("deals_won",), "denominator": ("deals_won", "deals_lost")},
    "avg_deal_size": {
        "numerator": ("bookings",),
        "denominator": ("bookings.n",),
        "excluded_base": "bookings.excluded",
    },
    "sales_cycle_days": {"numerator": ("sales_cycle_days.sum",), "denominator": ("deals_won",)},
    "pipeline_coverage": {"numerator": (), "special": PIPELINE_COVERAGE},
    "activity_to_meeting": {
        "numerator": ("meetings_booked",),
        "denominator": ("calls", "emails"),
    },
    "meeting_to_opportunity": {
        "numerator": ("opportunities_created",),
        "denominator": ("meetings_held",),
    },
}


def _field_matcher(source: Source, key: str, expected: Any, metric: str) -> Callable[[Row], bool]:
    fields = ACTIVITY_FIELDS if source == "activities" else DEAL_FIELDS
    if key.endswith("_contains"):
        field = key.removesuffix("_contains")
        if field not in fields:
            raise CatalogError(
                f"metric {metric!r}: filter field {field!r} is not one of {fields}",
                metric=metric,
                field=f"filter.{key}",
            )
        needle = str(expected).lower()
        return lambda r: needle in str(r[field] or "").lower()
    if key not in fields:
        raise CatalogError(
            f"metric {metric!r}: filter field {key!r} is not one of {fields}",
            metric=metric,
            field=f"filter.{key}",
        )
    wanted = [_norm(v) for v in expected] if isinstance(expected, list) else [_norm(expected)]
    return lambda r: _norm(r[key]) in wanted


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _custom_bases(
    metric: MetricConfig, currency: CurrencyConfig
) -> tuple[list[Base], dict[str, Any]]:
    source: Source = "activities" if metric.source == "activities" else "deals"
    default_date = "occurred_at" if source == "activities" else "created_at"
    date_field = metric.date_field or default_date
    if date_field not in DATE_FIELDS[source]:
        raise CatalogError(
            f"metric {metric.name!r}: date_field must be one of {DATE_FIELDS[source]}",
            metric=metric.name,
            field="date_field",
        )
    matchers = [_field_matcher(source, k, v, metric.name) for k, v in metric.filter.items()]
    if source == "deals" and date_field == "closed_at":
        matchers.append(lambda r: r["closed_at"] is not None)

    def matches(row: Row) -> bool:
        return all(m(row) for m in matchers)

    used = tuple(k.removesuffix("_contains") for k in metric.filter)
    if source == "deals" and date_field == "closed_at":
        used += ("closed_at",)
    # the closed_at matcher reads that field's nullness; the filters read values
    nullness = ("closed_at",) if "closed_at" in used and "closed_at" not in metric.filter else ()
    if metric.aggregation == "count":
        return [Base(metric.name, source, date_field, _when(matches), used, None, nullness)], {}
    field = metric.value_field or ""
    numeric_fields = ("amount",) if source == "deals" else ("duration_seconds",)
    if field not in numeric_fields:
        raise CatalogError(
            f"metric {metric.name!r}: value_field must be one of {numeric_fields}",
            metric=metric.name,
            field="value_field",
        )
    if len(metric.name) > 58:
        raise CatalogError(
            f"metric {metric.name!r}: name too long for a sum/avg metric (at most 58 characters)",
            metric=metric.name,
            field="name",
        )
    getter: Callable[[Row], float | None]
    used += (field, "currency") if field == "amount" else (field,)
    if field == "amount":
        getter = money(currency)
    else:
        getter = lambda r: None if r[field] is None else float(r[field])  # noqa: E731
    # The value is proportional to the field (the currency converts by a rate), unless a
    # filter reads it too; the count of values reads only whether there is one.
    filtered = field in {k.removesuffix("_contains") for k in metric.filter}
    term = None if filtered else field
    counted = nullness if filtered else (*nullness, field)
    summed = Base(metric.name, source, date_field, _when(matches, getter), used, term, nullness)
    if metric.aggregation == "sum":
        return [summed], {}
    sum_name, n_name = f"{metric.name}.sum", f"{metric.name}.n"
    has_value = _when(lambda r: matches(r) and getter(r) is not None)
    bases = [
        replace(summed, name=sum_name),
        Base(n_name, source, date_field, has_value, used, None, counted),
    ]
    return bases, {"numerator": (sum_name,), "denominator": (n_name,)}


def build_catalog(config: MetricsConfig) -> Catalog:
    """The catalog for an org config: built-ins plus custom metrics, config order first."""
    bases = {b.name: b for b in _builtin_bases(config.currency)}
    defs: dict[str, MetricDef] = {}
    for builtin in BUILTIN_METRICS:
        parts = {"numerator": (builtin.name,), **_BUILTIN_FORMULAS.get(builtin.name, {})}
        defs[builtin.name] = MetricDef(
            builtin.name,
            builtin.label,
            builtin.kind,
            builtin.unit,
            builtin.description,
            higher_is_better=builtin.name != "sales_cycle_days",
            **parts,
        )
    ordered: dict[str, MetricDef] = {}
    for metric in config.metrics:
        if metric.source == "builtin":
            if metric.name not in defs:
                raise CatalogError(
                    f"metric {metric.name!r} is not a built-in metric",
                    metric=metric.name,
                    field="name",
                )
            base_def = defs[metric.name]
            ordered[metric.name] = MetricDef(
                base_def.name,
                metric.label or base_def.label,
                metric.kind or base_def.kind,
                metric.unit or base_def.unit,
                metric.description or base_def.description,
                base_def.numerator,
                base_def.denominator,
                base_def.scale,
                base_def.higher_is_better and metric.higher_is_better,
                base_def.special,
                base_def.excluded_base,
            )
            continue
        if metric.name in defs:
            raise CatalogError(
                f"metric {metric.name!r} clashes with a built-in metric name",
                metric=metric.name,
                field="name",
            )
        formula: dict[str, Any]
        if metric.source == "ratio":
            formula = _ratio_formula(metric, {**defs, **ordered})
        else:
            new_bases, formula = _custom_bases(metric, config.currency)
            bases.update({b.name: b for b in new_bases})
        formula.setdefault("numerator", (metric.name,))
        ordered[metric.name] = MetricDef(
            metric.name,
            metric.label or metric.name.replace("_", " ").capitalize(),
            metric.kind or ("output" if metric.source == "ratio" else "input"),
            metric.unit or ("percent" if metric.source == "ratio" else "count"),
            metric.description or f"Custom {metric.source} metric.",
            higher_is_better=metric.higher_is_better,
            **formula,
        )
    for name, definition in defs.items():
        ordered.setdefault(name, definition)
    return Catalog(ordered, bases)


def _ratio_formula(metric: MetricConfig, known: dict[str, MetricDef]) -> dict[str, Any]:
    parts: dict[str, tuple[str, ...]] = {}
    for side in ("numerator", "denominator"):
        ref = getattr(metric, side)
        if ref == metric.name:
            raise CatalogError(
                f"metric {metric.name!r}: a ratio cannot divide itself",
                metric=metric.name,
                field=side,
            )
        if ref is None or ref not in known:
            raise CatalogError(
                f"metric {metric.name!r}: {side} {ref!r} is not a known metric (a ratio "
                "can use built-ins and the metrics defined above it)",
                metric=metric.name,
                field=side,
            )
        target = known[ref]
        if not target.additive:
            raise CatalogError(
                f"metric {metric.name!r}: {side} {ref!r} must be a count or sum metric, "
                "not a ratio (ratios are always ratios of sums)",
                metric=metric.name,
                field=side,
            )
        parts[side] = target.numerator
    return parts


def local_day(when: dt.datetime, zone: dt.tzinfo) -> dt.date:
    return when.astimezone(zone).date()
