"""Parsing `/metric` text: the metric (fuzzy), who it is about, the period and the extras.

    /metric NAME [@person|#team|team-name|org] [PERIOD] [vs last period] [chart] [public]

Slack sends a mention as ``<@U123|dana>`` (with "escape users" on) or ``@dana``, a channel
as ``<#C123|team-sdr>``, ``<#C123|>`` or ``#team-sdr``. Metric names match exactly, by label
(several words: "meetings booked"), by a known synonym ("meetings" → meetings_booked), by
prefix, or by spelling distance; an ambiguous word gets suggestions, never a guess.
"vs last period" may also be "vs last week" (month, ...): always the previous period of the
same length as the one asked about.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from metrics.catalog import Catalog
from metrics.config import MetricsConfig

USAGE = """*Usage:* `/metric NAME [@person | #team | team | org] [period] [vs last period] \
[chart] [public]`
Examples:
• `/metric calls` — your calls today
• `/metric meetings @dana last week vs last period`
• `/metric meetings booked sdr this week vs last week`
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
# "vs last week" after "this month" still means the previous period of the same length
_VS = re.compile(
    r"\bvs\.?\s+(?:last|previous|prior)\b(?:\s+(?:period|day|week|month|quarter|year)\b)?",
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


def exact_metric(words: str, catalog: Catalog) -> str | None:
    """The metric `words` name exactly (name, label or synonym, any case), else None."""
    key = _key(words)
    if key in catalog.metrics:
        return key
    labels = {_key(d.label): n for n, d in catalog.metrics.items()}
    if key in labels:
        return labels[key]
    if key in SYNONYMS and SYNONYMS[key] in catalog.metrics:
        return SYNONYMS[key]
    return None


def match_metric(word: str, catalog: Catalog) -> str:
    names = list(catalog.metrics)
    exact = exact_metric(word, catalog)
    if exact is not None:
        return exact
    key = _key(word)
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
    metric, used = _leading_metric(words, catalog)
    target, rest = parse_target(words[used:], team_keys)
    flags = {"chart", "public"} & set(rest)
    period = " ".join(w for w in rest if w not in flags) or "today"
    return MetricQuery(metric, target, period, compare, "chart" in flags, "public" in flags)


def _leading_metric(words: list[str], catalog: Catalog) -> tuple[str, int]:
    """The metric the text starts with and how many words name it: the longest run of
    words that is a name or label ("meetings booked", "connected calls"), else the first
    word, matched loosely (typos, prefixes, suggestions)."""
    for used in range(len(words), 1, -1):
        metric = exact_metric(" ".join(words[:used]), catalog)
        if metric is not None:
            return metric, used
    return match_metric(words[0], catalog), 1


def parse_target(words: list[str], team_keys: dict[str, str]) -> tuple[Target, list[str]]:
    """Who the words are about (default: the asker), and the other words, lowercased. A
    team's name may take several words ("account executives"): the longest run wins."""
    target = Target("self")
    rest: list[str] = []
    i = 0
    while i < len(words):
        named = _team_name_at(words, i, team_keys)
        if named is not None:
            target = _one(target, Target("team", named[0]))
            i += named[1]
            continue
        word = words[i]
        low = word.lower()
        i += 1
        mention, channel = _MENTION.match(word), _CHANNEL.match(word)
        if mention:
            target = _one(target, Target("user", mention.group(1)))
        elif channel:
            by_channel = find_team(word, team_keys)
            if by_channel is None:
                raise QueryError(_unknown_channel(channel.group(1), channel.group(2), team_keys))
            target = _one(target, Target("team", by_channel))
        elif low.startswith("@") and len(low) > 1:
            target = _one(target, Target("name", low[1:]))
        elif low in ("org", "company", "everyone"):
            target = _one(target, Target("org"))
        elif (team := find_team(low, team_keys)) is not None:
            target = _one(target, Target("team", team))
        else:
            rest.append(low)
    return target, rest


def _team_name_at(words: list[str], i: int, team_keys: dict[str, str]) -> tuple[str, int] | None:
    """(team, words used) for a team name of two or more words starting at words[i]."""
    longest = max((len(k.split()) for k in team_keys), default=1)
    for used in range(min(longest, len(words) - i), 1, -1):
        team = team_keys.get(" ".join(words[i : i + used]).lower())
        if team is not None:
            return team, used
    return None


def find_team(text: str, team_keys: dict[str, str]) -> str | None:
    """The key of the team `text` names, else None: its key or name in any case, its
    channel with or without '#', or Slack's channel reference ``<#C123|name>`` (by the
    name, else by the id, which matches when the config gives the team's channel as an id:
    Slack may send ``<#C123|>`` without a name)."""
    channel = _CHANNEL.match(text.strip())
    if channel:
        name, channel_id = channel.group(2), channel.group(1)
        return (team_keys.get(name.lower()) if name else None) or team_keys.get(channel_id.lower())
    return team_keys.get(" ".join(text.split()).lstrip("#").lower())


def _unknown_channel(channel_id: str, name: str | None, team_keys: dict[str, str]) -> str:
    teams = ", ".join(sorted(set(team_keys.values())))
    if name:
        return f"<#{channel_id}> is not a team channel I know: name the team instead ({teams})."
    return (
        f"I can't tell which team <#{channel_id}> is (Slack sent the channel without its "
        f"name): type the channel's name with # or the team's name instead ({teams})."
    )


def config_team_words(config: MetricsConfig) -> dict[str, str]:
    """`team_words` of the config's teams."""
    return team_words([(t.key, t.name, t.channel) for t in config.teams])


def team_words(teams: list[tuple[str, str, str | None]]) -> dict[str, str]:
    """Every word that names a team: its key, its name, its channel (without '#')."""
    words: dict[str, str] = {}
    for key, name, channel in teams:
        words[key.lower()] = key
        words[name.lower()] = key
        if channel:
            words[channel.lstrip("#").lower()] = key
    return words


def _key(words: str) -> str:
    """Words as a metric key: "Meetings booked" → meetings_booked."""
    return "_".join(words.lower().replace("-", "_").split())


def _one(current: Target, new: Target) -> Target:
    if current.kind != "self":
        raise QueryError("Ask about one person, team or the org at a time.")
    return new
