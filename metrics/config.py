"""Org-config models for the numbers: org, calendar, currency, pipeline stages, teams, people,
metrics, targets.

These are the parts of `drumbeat.toml` that `metrics/` needs. The rhythm and alert sections
live in `rhythms.config`, which composes this into the whole file's model.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

Role = Literal["rep", "manager", "exec", "admin"]
ROLES: tuple[Role, ...] = ("rep", "manager", "exec", "admin")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MetricKind = Literal["input", "output"]
MetricUnit = Literal["count", "currency", "percent", "days", "ratio"]
MetricSource = Literal["builtin", "activities", "deals", "ratio"]
Aggregation = Literal["count", "sum", "avg"]

# Where each connector's owners come from (`metrics.crm.*.source`): keys of crm_owner_ids.
CrmSource = Literal["demo", "csv", "hubspot", "salesforce", "pipedrive"]
CRM_SOURCES: tuple[str, ...] = get_args(CrmSource)  # the connectors (metrics.crm)
# Targets, amounts and thresholds above this are typos (1e300 overflows the scoreboards).
NUMBER_MAX = 1e12
# Stored stage names are cut to this length (`deal_stage_history.stage`): longer never match.
STAGE_MAX = 64
# Status bands are shares of pace: green at 10x pace is a typo for 1.0 (or a percent).
BAND_MAX = 10.0

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Strict(BaseModel):
    """Base for config models: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like 'America/Chicago')"
        ) from exc
    return value


def check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lowercase letters, digits and '_', "
            "starting with a letter"
        )
    return value


def _check_required_timezone(value: str) -> str:
    check_timezone(value)
    return value


def lower_email(value: str) -> str:
    """Emails are identities compared everywhere in lowercase, so the config stores them so."""
    return value.strip().lower()


def check_email(value: str) -> str:
    """A lowercased email address; ValueError for anything that is not one."""
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return lower_email(value)


TimeZoneName = Annotated[str, AfterValidator(_check_required_timezone)]
Name = Annotated[str, AfterValidator(check_name)]
Target = Annotated[float, Field(ge=0, le=NUMBER_MAX, allow_inf_nan=False)]
Email = Annotated[str, AfterValidator(check_email)]
EmailRef = Annotated[str, AfterValidator(lower_email)]  # checked against people[] later


class CalendarConfig(Strict):
    """Working days, hours and holidays: what 'pace' and 'a working day' mean."""

    country: str | None = Field(None, description="ISO country code for public holidays, e.g. 'US'")
    subdivision: str | None = Field(None, description="State/province code for holidays, e.g. 'CA'")
    working_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    workday_start: dt.time = dt.time(9, 0)
    workday_end: dt.time = dt.time(18, 0)
    extra_holidays: tuple[dt.date, ...] = ()

    @field_validator("working_days")
    @classmethod
    def _nonempty(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("at least one working day is needed")
        return value

    @field_validator("workday_end")
    @classmethod
    def _end_after_start(cls, value: dt.time, info: object) -> dt.time:
        start = getattr(info, "data", {}).get("workday_start")
        if start is not None and value <= start:
            raise ValueError("must be later than workday_start")
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import holidays

        if value.upper() not in holidays.list_supported_countries():
            raise ValueError(f"no holiday calendar for country {value!r}")
        return value.upper()

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A subdivision the `holidays` package does not know fails when the calendar is
        first used (`metrics.calendar`), so it is refused here."""
        if value is None or "country" not in info.data:  # no subdivision, or a bad country
            return value
        country = info.data["country"]
        if country is None:
            raise ValueError("a subdivision needs a country")
        import holidays

        try:
            holidays.country_holidays(country, subdiv=value)
        except NotImplementedError:
            codes = holidays.list_supported_countries(include_aliases=False)[country]
            more = ", ..." if len(codes) > 12 else ""
            raise ValueError(
                f"no holiday calendar for subdivision {value!r} of {country} "
                f"(known: {', '.join(codes[:12])}{more})"
            ) from None
        return value


class CurrencyConfig(Strict):
    reporting: str = "USD"
    rates: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="Units of the reporting currency per one unit of each other currency",
    )

    @field_validator("reporting")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CURRENCY.match(value):
            raise ValueError(f"{value!r} is not a 3-letter ISO currency code")
        return value

    @field_validator("rates")
    @classmethod
    def _rate_codes(cls, value: dict[str, float]) -> dict[str, float]:
        for code in value:
            if not _CURRENCY.match(code):
                raise ValueError(f"{code!r} is not a 3-letter ISO currency code")
        return value


def _stage_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"must be a stage name in quotes, not {value!r}")
    return value


def _check_stage(value: str) -> str:
    if not value.strip():
        raise ValueError("empty stage name")
    if len(value) > STAGE_MAX:
        raise ValueError(
            f"longer than {STAGE_MAX} characters: stage names are stored cut to "
            f"{STAGE_MAX}, so it would match no deal"
        )
    return value


StageName = Annotated[str, BeforeValidator(_stage_text), AfterValidator(_check_stage)]


class PipelineConfig(Strict):
    """The open deal stages in funnel order, as the stored stage histories name them
    (`deal_stage_history.stage`); `metrics.funnel.funnel_stages` reads them."""

    stages: tuple[StageName, ...] | None = Field(
        None,
        description="Open deal stages in funnel order for the stage conversion, e.g. "
        "['Qualified', 'Demo', 'Proposal']; unset: inferred from stage histories",
    )

    @field_validator("stages", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        if value is not None and not isinstance(value, list | tuple):
            raise ValueError(
                'must be a list of stage names in funnel order, e.g. ["Qualified", "Demo"]'
            )
        return value

    @field_validator("stages")
    @classmethod
    def _listed_once(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError(
                "list at least one stage, or leave stages out to infer the order from the deals"
            )
        places: dict[str, list[int]] = {}
        for i, stage in enumerate(value):
            places.setdefault(stage, []).append(i)
        twice = [
            f"{stage!r} ({', '.join(f'stages[{i}]' for i in at)})"
            for stage, at in places.items()
            if len(at) > 1
        ]
        if twice:
            raise ValueError(f"listed more than once: {'; '.join(twice)}")
        return value


class OrgSettings(Strict):
    name: str = Field(min_length=1)
    timezone: TimeZoneName = "UTC"
    transparent_scoreboards: StrictBool = Field(
        True, description="Reps may see teammates' numbers, not only their own and the team's"
    )
    status_green_at: float = Field(
        1.0,
        gt=0,
        le=BAND_MAX,
        allow_inf_nan=False,
        description="Share of pace at or above which a metric is green",
    )
    status_yellow_at: float = Field(
        0.8,
        gt=0,
        le=BAND_MAX,
        allow_inf_nan=False,
        description="Share of pace at or above which it is yellow",
    )

    @field_validator("status_yellow_at")
    @classmethod
    def _bands(cls, value: float, info: object) -> float:
        green = getattr(info, "data", {}).get("status_green_at")
        if green is not None and value > green:
            raise ValueError("must not exceed status_green_at")
        return value


class TargetSet(Strict):
    daily: Target | None = None
    weekly: Target | None = None
    monthly: Target | None = None


class TeamConfig(Strict):
    key: Name
    name: str = Field(min_length=1)
    function: Literal["sdr", "ae", "cs", "marketing", "other"] = "other"
    manager: EmailRef | None = Field(
        None, description="Email of the team's manager (a person below)"
    )
    channel: str | None = Field(None, description="Team channel, e.g. '#sdr-team' or a channel id")


class PersonConfig(Strict):
    email: Email
    name: str = Field(min_length=1)
    role: Role
    team: str | None = None
    manager: EmailRef | None = Field(
        None, description="Email of the manager; default: the team's manager"
    )
    slack_user_id: str | None = None
    crm_owner_ids: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="Explicit CRM owner id per source, e.g. {hubspot = '123'}"
    )
    crm_email: Email | None = Field(None, description="Email used in the CRM when it differs")
    timezone: TimeZoneName | None = Field(
        None, description="Overrides the Slack profile's time zone"
    )
    targets: dict[str, TargetSet] = Field(
        default_factory=dict, description="Per-person target overrides, keyed by metric name"
    )
    active: StrictBool = True

    @field_validator("crm_owner_ids")
    @classmethod
    def _crm_sources(cls, value: dict[str, str]) -> dict[str, str]:
        for source in value:
            if source not in CRM_SOURCES:
                raise ValueError(
                    f"unknown CRM source {source!r}: use one of {', '.join(CRM_SOURCES)}"
                )
        return value

    @field_validator("slack_user_id")
    @classmethod
    def _slack_id(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_ID.match(value):
            raise ValueError(f"{value!r} does not look like a Slack user id (e.g. 'U024BE7LH')")
        return value


class MetricConfig(Strict):
    """A metric: a built-in by name (set targets, label), or a custom filter + aggregation."""

    name: Name
    label: str | None = None
    kind: MetricKind | None = None
    unit: MetricUnit | None = None
    source: MetricSource = "builtin"
    description: str | None = None
    filter: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict,
        description="Field filters on activities or deals, e.g. "
        "{kind = 'call', outcome = 'connected'}",
    )
    date_field: str | None = Field(
        None, description="Which timestamp places a record on a day (default per source)"
    )
    aggregation: Aggregation = "count"
    value_field: str | None = Field(None, description="Field summed or averaged, e.g. 'amount'")
    numerator: str | None = Field(None, description="For source = 'ratio': metric divided")
    denominator: str | None = Field(None, description="For source = 'ratio': metric divided by")
    higher_is_better: StrictBool = True
    targets: dict[str, TargetSet] = Field(
        default_factory=dict,
        description="Targets keyed by role ('rep', 'manager') or team key ('sdr'); team beats role",
    )


class MetricsConfig(Strict):
    """The part of the org config that `metrics/` reads."""

    org: OrgSettings
    calendar: CalendarConfig = CalendarConfig()
    currency: CurrencyConfig = CurrencyConfig()
    pipeline: PipelineConfig = PipelineConfig()
    teams: tuple[TeamConfig, ...] = ()
    people: tuple[PersonConfig, ...] = ()
    metrics: tuple[MetricConfig, ...] = ()

    def person(self, email: str) -> PersonConfig | None:
        """The person with this email (case-insensitive); O(1), looked up on hot paths."""
        return _index(self.people, "email").get(email.lower())

    def team(self, key: str) -> TeamConfig | None:
        return _index(self.teams, "key").get(key)

    def metric(self, name: str) -> MetricConfig | None:
        return _index(self.metrics, "name").get(name)


_INDEXES: dict[tuple[int, str], tuple[tuple[Any, ...], dict[str, Any]]] = {}


def _index(items: tuple[Any, ...], field: str) -> dict[str, Any]:
    """A dict of `items` by `field`, built once per tuple (configs are immutable; a
    `model_copy` with new people is a new tuple, so it gets its own index)."""
    key = (id(items), field)
    cached = _INDEXES.get(key)
    if cached is not None and cached[0] is items:
        return cached[1]
    if len(_INDEXES) > 256:
        _INDEXES.clear()
    index = {getattr(item, field): item for item in items}
    _INDEXES[key] = (items, index)
    return index
