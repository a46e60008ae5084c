"""The options of each rhythm kind (`[rhythms.NAME].options`), as strict models.

The rhythms read `rhythm.options` as a plain dict (`options.get(name, default)`); these
models say which names each kind reads and which values it can use, so the config check
refuses a typo (``dya``), a value the rhythm would misread (``per_rep_charts = "nope"`` is
truthy, ``digest_to = ["ceo"]`` was silently dropped) or one that fails at every tick
(``deadline = "moon 99:99"``). The defaults are the ones the rhythms fall back to.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, field_validator

from metrics.config import Strict
from rhythms.maple_modal import DEFAULT_HINTS

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHANNEL = re.compile(r"^(#[^\s#]+|C[A-Z0-9]{2,})$")


def parse_day_time(text: str) -> tuple[int, dt.time]:
    """'mon 09:00' → (0, 09:00); ValueError with a clear message otherwise."""
    try:
        day, clock = text.strip().lower().split()
        return DAYS.index(day[:3]), dt.time.fromisoformat(clock)
    except ValueError as exc:
        raise ValueError(f"{text!r}: use 'DAY HH:MM', e.g. 'mon 09:00'") from exc


def _day_time(value: str) -> str:
    parse_day_time(value)
    return value


def _digest_target(value: str) -> str:
    if value != "cro" and not _CHANNEL.match(value):
        raise ValueError(
            f"{value!r}: use 'cro' (every exec's DM) or a channel ('#sales-leaders' or an id)"
        )
    return value


DayTime = Annotated[StrictStr, AfterValidator(_day_time)]
DigestTarget = Annotated[StrictStr, AfterValidator(_digest_target)]


class NoOptions(Strict):
    """Control tower, monthly review, game plan and alerts read no options."""


class DailyScoreboardOptions(Strict):
    day: Literal["today", "yesterday"] = "today"
    per_rep_charts: StrictBool = False


class TeamScoreboardOptions(Strict):
    post_in_team_channel: StrictBool = False
    chart: StrictBool = False


class MapleOptions(Strict):
    reminders: tuple[DayTime, ...] = ()
    max_reminders: StrictInt | None = Field(None, ge=0, description="Default: all reminders")
    deadline: DayTime = "mon 12:00"
    digest_to: tuple[DigestTarget, ...] = ("cro",)
    hints: dict[str, StrictStr] = Field(default_factory=dict)
    emergency_reraise_minutes: StrictInt = Field(60, ge=1, le=7 * 24 * 60)

    @field_validator("hints")
    @classmethod
    def _sections(cls, value: dict[str, str]) -> dict[str, str]:
        for section in value:
            if section not in DEFAULT_HINTS:
                raise ValueError(f"no MAPLE section {section!r}: use {', '.join(DEFAULT_HINTS)}")
        return value


OPTIONS_BY_KIND: dict[str, type[Strict]] = {
    "daily_scoreboard": DailyScoreboardOptions,
    "team_scoreboard": TeamScoreboardOptions,
    "maple": MapleOptions,
    "control_tower": NoOptions,
    "monthly_review": NoOptions,
    "game_plan": NoOptions,
    "alerts": NoOptions,
}
