"""The whole org config file (`drumbeat.toml`): the metrics part plus rhythms and alert rules.

`load_org_config(path)` reads and validates it and raises `ConfigError` listing every problem
with its path in the file, e.g. ``metrics[3].targets.rep.daily: must be >= 0``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from metrics.builtins import BUILTIN_METRIC_NAMES
from metrics.config import (
    NUMBER_MAX,
    ROLES,
    EmailRef,
    MetricsConfig,
    Role,
    Strict,
    TimeZoneName,
)
from metrics.config_checks import metrics_problems
from rhythms.config_salvage import salvage
from rhythms.cron import CRON_FIELDS, check_fires
from rhythms.rhythm_options import OPTIONS_BY_KIND

RHYTHM_KINDS = (
    "daily_scoreboard",
    "team_scoreboard",
    "maple",
    "control_tower",
    "monthly_review",
    "game_plan",
    "alerts",
)
RhythmKind = Literal[
    "daily_scoreboard",
    "team_scoreboard",
    "maple",
    "control_tower",
    "monthly_review",
    "game_plan",
    "alerts",
]


class ConfigError(Exception):
    """The org config is missing, unreadable or invalid; `problems` holds (path, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {msg}" if path else f"  {msg}" for path, msg in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class Audience(Strict):
    roles: tuple[Role, ...] = ()
    teams: tuple[str, ...] = ()
    people: tuple[EmailRef, ...] = Field((), description="Emails")


class RhythmConfig(Strict):
    """One rhythm: what it is, when it runs, for whom, where it posts."""

    kind: RhythmKind | None = Field(None, description="Defaults to the table's key")
    enabled: StrictBool = True
    schedule: str = Field(
        description="Cron: 'minute hour day month weekday', e.g. '30 17 * * mon-fri' "
        "(weekday numbers as in cron: 0 and 7 are Sunday)"
    )
    timezone: Literal["recipient"] | TimeZoneName = Field(
        "recipient", description="'recipient' runs in each person's own zone, or a fixed IANA zone"
    )
    audience: Audience = Audience()
    channel: str | None = None
    working_days_only: StrictBool = True
    grace_minutes: int = Field(120, ge=0, le=24 * 60)
    options: dict[str, Any] = Field(
        default_factory=dict, description="Per kind: `rhythms.rhythm_options`"
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = len(value.split())
        if fields != CRON_FIELDS:
            raise ValueError(
                f"cron needs 5 fields 'minute hour day month weekday', got {fields} in {value!r}"
            )
        try:
            check_fires(value, dt.datetime.now(dt.UTC))
        except ValueError as exc:
            raise ValueError(f"bad cron {value!r}: {exc}") from exc
        return value


AlertCondition = Literal[
    "below",
    "above",
    "below_pace_pct",
    "drop_vs_trailing_pct",
    "no_activity_by",
    "coverage_below",
    "turns_red",
]
Route = str  # "cro", "manager", "person", "channel:#name"


class AlertScope(Strict):
    level: Literal["person", "team", "org"] = "person"
    roles: tuple[Role, ...] = ()
    teams: tuple[str, ...] = ()
    people: tuple[EmailRef, ...] = ()


class AlertRuleConfig(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,62}$")
    metric: str
    scope: AlertScope = AlertScope()
    condition: AlertCondition
    value: float | None = Field(
        None,
        ge=0,
        le=NUMBER_MAX,
        allow_inf_nan=False,
        description="Threshold; meaning depends on condition (a fraction for the *_pct ones)",
    )
    by_time: dt.time | None = Field(None, description="For no_activity_by: local time of day")
    trailing_days: int = Field(14, ge=1, le=90)
    every_minutes: int = Field(30, ge=1, le=24 * 60)
    working_hours_only: StrictBool = True
    severity: Literal["info", "warning", "critical"] = "warning"
    route: tuple[Route, ...] = ("manager",)
    grace_minutes: int = Field(0, ge=0)
    cooldown_minutes: int = Field(240, ge=0)
    quiet_hours: tuple[dt.time, dt.time] | None = Field(
        None, description="[start, end] in the recipient's zone, e.g. ['19:00', '08:00']"
    )
    group: StrictBool = True
    escalate_after_red_days: int | None = Field(None, ge=1)
    enabled: StrictBool = True

    @field_validator("value")
    @classmethod
    def _fraction(cls, value: float | None, info: ValidationInfo) -> float | None:
        """The *_pct conditions compare with a fraction (`rhythms.alert_rules`): 60 for 60%
        would never clear (below pace) or never fire (a drop of more than 100%)."""
        condition = info.data.get("condition")
        if value is None:
            return None
        if condition == "below_pace_pct" and not 0 < value <= 1:
            raise ValueError("a fraction of pace above 0 and at most 1: 0.6 means 60% of pace")
        if condition == "drop_vs_trailing_pct" and not 0 < value < 1:
            raise ValueError("a fraction between 0 and 1: 0.3 means 30% below the average")
        return value

    @field_validator("route")
    @classmethod
    def _routes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for route in value:
            if route not in ("cro", "manager", "person") and not route.startswith("channel:"):
                raise ValueError(
                    f"unknown route {route!r}: use 'cro', 'manager', 'person' or 'channel:#name'"
                )
            if route.startswith("channel:") and not route.removeprefix("channel:").strip():
                raise ValueError(f"route {route!r} names no channel: use 'channel:#name'")
        if not value:
            raise ValueError("at least one route is needed")
        return value

    @model_validator(mode="after")
    def _needs(self) -> AlertRuleConfig:
        if self.condition == "no_activity_by" and self.by_time is None:
            raise ValueError("condition 'no_activity_by' needs by_time, e.g. '11:00'")
        if self.condition not in ("no_activity_by", "turns_red") and self.value is None:
            raise ValueError(f"condition {self.condition!r} needs a value")
        return self


class SlackOrgConfig(Strict):
    admin_channel: str | None = Field(None, description="Where delivery failures are reported")
    leadership_channel: str | None = None


class OrgConfig(MetricsConfig):
    """The whole `drumbeat.toml`."""

    slack: SlackOrgConfig = SlackOrgConfig()
    rhythms: dict[str, RhythmConfig] = Field(default_factory=dict)
    alerts: tuple[AlertRuleConfig, ...] = ()

    def rhythm_kind(self, name: str) -> str:
        rhythm = self.rhythms[name]
        return rhythm.kind or name


def config_problems(cfg: OrgConfig) -> list[tuple[str, str]]:
    """Cross-reference checks pydantic cannot do field by field: (path, message) pairs."""
    problems = metrics_problems(cfg, BUILTIN_METRIC_NAMES)
    problems += _rhythm_problems(cfg)
    problems += _alert_problems(cfg)
    if not any(p.role == "exec" for p in cfg.people) and cfg.people:
        problems.append(
            ("people", "no person has role 'exec': CRO digests and escalations need one")
        )
    if cfg.people and not any(p.role == "admin" for p in cfg.people):
        problems.append(
            ("people", "no person has role 'admin': delivery failures need someone to tell")
        )
    return problems


def _rhythm_problems(cfg: OrgConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    team_keys = {t.key for t in cfg.teams}
    emails = {p.email for p in cfg.people}
    for name, rhythm in cfg.rhythms.items():
        path = f"rhythms.{name}"
        if rhythm.kind is None and name not in RHYTHM_KINDS:
            problems.append(
                (f"{path}.kind", f"required: {name!r} is not one of {', '.join(RHYTHM_KINDS)}")
            )
        else:
            problems += _options_problems(cfg.rhythm_kind(name), rhythm.options, path)
        for j, team in enumerate(rhythm.audience.teams):
            if team not in team_keys:
                problems.append((f"{path}.audience.teams[{j}]", f"unknown team {team!r}"))
        for j, email in enumerate(rhythm.audience.people):
            if email not in emails:
                problems.append((f"{path}.audience.people[{j}]", f"no person with email {email!r}"))
    return problems


def _options_problems(kind: str, options: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """`options` checked against the kind's model (`rhythms.rhythm_options`); the rhythms
    read the dict itself, so this only refuses what they would misread."""
    model = OPTIONS_BY_KIND[kind]
    try:
        model.model_validate(options)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = _message(err)
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][0]), list(model.model_fields), 1)
                known = ", ".join(model.model_fields) or "none"
                hint = f"did you mean {close[0]!r}?" if close else f"{kind} options: {known}"
                message = f"unknown option ({hint})"
            problems.append((f"{path}.options.{_loc_path(tuple(err['loc']))}", message))
        return problems
    return []


def _alert_problems(cfg: OrgConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    team_keys = {t.key for t in cfg.teams}
    emails = {p.email for p in cfg.people}
    metric_names = BUILTIN_METRIC_NAMES | {m.name for m in cfg.metrics}
    rule_names: list[str] = []
    for i, rule in enumerate(cfg.alerts):
        path = f"alerts[{i}]"
        if rule.name in rule_names:
            problems.append((f"{path}.name", f"duplicate alert rule {rule.name!r}"))
        rule_names.append(rule.name)
        if rule.metric not in metric_names:
            problems.append((f"{path}.metric", f"unknown metric {rule.metric!r}"))
        for j, team in enumerate(rule.scope.teams):
            if team not in team_keys:
                problems.append((f"{path}.scope.teams[{j}]", f"unknown team {team!r}"))
        for j, email in enumerate(rule.scope.people):
            if email not in emails:
                problems.append((f"{path}.scope.people[{j}]", f"no person with email {email!r}"))
    return problems


def _loc_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    if err["type"] == "greater_than_equal":
        return f"must be >= {err['ctx']['ge']}"
    if err["type"] == "less_than_equal":
        return f"must be <= {err['ctx']['le']:g}"
    return msg[:1].lower() + msg[1:]


def parse_org_config(data: dict[str, Any], source: str = "<config>") -> OrgConfig:
    """Validate already-parsed TOML data; raise `ConfigError` with every problem found.

    When some fields are invalid, the cross-reference checks still run on the rest
    (`rhythms.config_salvage`), so one run lists both kinds of problem."""
    try:
        cfg = OrgConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [(_loc_path(tuple(e["loc"])), _message(e)) for e in errors]
        salvaged = salvage(OrgConfig, data, errors)
        if salvaged is not None:
            rest, pruned = salvaged
            problems += pruned.in_file(config_problems(rest), {path for path, _ in problems})
        raise ConfigError(source, problems) from None
    problems = config_problems(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_org_config(path: Path | str) -> OrgConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM some editors write is not TOML
    except FileNotFoundError:
        raise ConfigError(
            str(path), [("", "file not found (set DRUMBEAT_CONFIG or pass a path)")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [("", f"not valid TOML: {exc}")]) from None
    return parse_org_config(data, str(path))


__all__ = [
    "RHYTHM_KINDS",
    "ROLES",
    "AlertRuleConfig",
    "ConfigError",
    "OrgConfig",
    "RhythmConfig",
    "load_org_config",
    "parse_org_config",
]
