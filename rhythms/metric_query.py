"""Parsing `/metric` text: the metric (fuzzy), who it is about, the period and the extras.

    /metric NAME [@person|#team|team-name|org] [PERIOD] [vs last period] [chart] [public]

Slack sends a mention as ``<@U123|dana>`` (with "escape users" on) or ``@dana``, a channel
as ``<#C123|team-sdr>`` or ``#team-sdr``. Metric names match exactly, by label, by a known
synonym ("meetings" → meetings_booked), by prefix, or by spelling distance; an ambiguous
word gets suggestions, never a guess.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from metrics.catalog import Catalog

USAGE = """*Usage:* `/metric NAME [@person | #team | team | org] [period] [vs last period] \
[chart] [public]`
Examples:
• `/metric calls` — your calls today
• `/metric meetings @dana last week vs last period`
• `/metric win_rate ae this month`
• `/metric pipeline_created org last 30d chart`
• `/metric calls sdr 2026-10-01..2026-10-31`
• `/metric list` — every metric and what it means"""

SYNONYMS = {
    "meetings": "meetings_booked",
    "meeting": "meetings_booked",
    "mtgs": "meetings_booked",
    "opps": "opportunities_created",
    "opportunities": "opportunities_created",
    "pipeline": "pipeline_created",
    "arr": "bookings",
    "new_arr": "bookings",
    "revenue": "bookings",
    "won": "deals_won",
    "wins": "deals_won",
    "dials": "calls",
    "connects": "connected_calls",
    "coverage": "pipeline_coverage",
    "cycle": "sales_cycle_days",
    "deal_size": "avg_deal_size",
    "asp": "avg_deal_size",
}
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|([^>]*))?>$")
_VS = re.compile(
    r"\bvs\.?\s+(last|previous|prior)\s+period\b|\bvs\.?\s+(last|previous|prior)\b",
    re.IGNORECASE,
)


class QueryError(ValueError):
    """Bad `/metric` text; the message says what was wrong and shows the usage."""


@dataclass(frozen=True)
class Target:
    kind: Literal["self", "user", "name", "team", "org"]
    value: str = ""


@dataclass(frozen=True)
class MetricQuery:
    metric: str
    target: Target
    period: str
    compare: bool
    chart: bool
    public: bool


def match_metric(word: str, catalog: Catalog) -> str:
    names = list(catalog.metrics)
    key = word.strip().lower().replace("-", "_").replace(" ", "_")
    if key in catalog.metrics:
        return key
    labels = {d.label.lower().replace(" ", "_"): n for n, d in catalog.metrics.items()}
    if key in labels:
        return labels[key]
    if key in SYNONYMS and SYNONYMS[key] in catalog.metrics:
        return SYNONYMS[key]
    prefixed = [n for n in names if n.startswith(key)] if len(key) >= 3 else []
    if len(prefixed) == 1:
        return prefixed[0]
    close = prefixed or difflib.get_close_matches(key, names + list(SYNONYMS), n=4, cutoff=0.7)
    close = list(dict.fromkeys(SYNONYMS.get(c, c) for c in close if SYNONYMS.get(c, c) in names))
    if len(close) == 1 and not prefixed:
        return close[0]
    if close:
        raise QueryError(f"`{word}` could mean {', '.join(f'`{c}`' for c in close)}: which one?")
    raise QueryError(f"I don't know a metric called `{word}`. `/metric list` shows them all.")


def parse_query(text: str, catalog: Catalog, team_keys: dict[str, str]) -> MetricQuery:
    """`team_keys` maps every accepted team word (key, name, channel) to its team key."""
    text = " ".join(text.split())
    if not text:
        raise QueryError("Which metric? " + USAGE)
    compare = bool(_VS.search(text))
    if compare:
        text = _VS.sub(" ", text)
    words = text.split()
    metric = match_metric(words[0], catalog)
    target, rest = parse_target(words[1:], team_keys)
    flags = {"chart", "public"} & set(rest)
    period = " ".join(w for w in rest if w not in flags) or "today"
    return MetricQuery(metric, target, period, compare, "chart" in flags, "public" in flags)


def parse_target(words: list[str], team_keys: dict[str, str]) -> tuple[Target, list[str]]:
    """Who the words are about (default: the asker), and the other words, lowercased."""
    target = Target("self")
    rest: list[str] = []
    for word in words:
        low = word.lower()
        mention, channel = _MENTION.match(word), _CHANNEL.match(word)
        if mention:
            target = _one(target, Target("user", mention.group(1)))
        elif channel:
            name = (channel.group(2) or channel.group(1)).lower()
            team = team_keys.get(name) or team_keys.get(channel.group(1).lower())
            if team is None:
                raise QueryError(f"<#{channel.group(1)}> is not a team channel I know.")
            target = _one(target, Target("team", team))
        elif low.startswith("@") and len(low) > 1:
            target = _one(target, Target("name", low[1:]))
        elif low in ("org", "company", "everyone"):
            target = _one(target, Target("org"))
        elif low.lstrip("#") in team_keys:
            target = _one(target, Target("team", team_keys[low.lstrip("#")]))
        else:
            rest.append(low)
    return target, rest


def team_words(teams: list[tuple[str, str, str | None]]) -> dict[str, str]:
    """Every word that names a team: its key, its name, its channel (without '#')."""
    words: dict[str, str] = {}
    for key, name, channel in teams:
        words[key.lower()] = key
        words[name.lower()] = key
        if channel:
            words[channel.lstrip("#").lower()] = key
    return words


def _one(current: Target, new: Target) -> Target:
    if current.kind != "self":
        raise QueryError("Ask about one person, team or the org at a time.")
    return new
