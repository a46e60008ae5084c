"""Parsing `/metric` text: the metric (fuzzy), who it is about, the period and the extras.

    /metric NAME [@person|#team|team-name|org|me] [PERIOD] [vs last period] [chart] [public]

The words may come in any order (`/metric <@U123|dana> calls`, `/metric sdr calls q3`) as
long as each reads one way: a mention, a channel, `@name`, `org`, `me`, a team word, a
metric name, a period (`metrics.period_words`), `chart`, `public`. Text that names a metric
exactly at its start is the metric, as it always was; elsewhere a word that could be two of
these (a team called like a metric) is a question, never a guess. A word nothing else
claims is matched loosely as the metric when none was named.

Slack sends a mention as ``<@U123|dana>`` (with "escape users" on) or ``@dana``, a channel
as ``<#C123|team-sdr>``, ``<#C123|>`` or ``#team-sdr``. Metric names match exactly, by label
(several words: "meetings booked"), by a known synonym ("meetings" → meetings_booked), by
prefix, or by spelling distance; an ambiguous word gets suggestions, never a guess.
"vs last period" may also be "vs last week" (month, ...): always the previous period of the
same length as the one asked about. Errors quote at most
`metrics.period_words.ECHO_MAX` (60) characters of what was typed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

from metrics.catalog import Catalog
from metrics.config import MetricsConfig
from metrics.period_words import clip, is_period, unknown_period

USAGE = """*Usage:* `/metric NAME [@person | #team | team | org | me] [period] [vs last period] \
[chart] [public]`
Examples:
• `/metric calls` — your calls today (a leader's: what they lead; `me` for your own)
• `/metric meetings @dana last week vs last period`
• `/metric meetings booked sdr this week vs last week`
• `/metric win_rate ae last quarter`
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
ORG_WORDS = ("org", "company", "everyone")
ME_WORDS = ("me", "mine", "myself")
FLAGS = ("chart", "public")
PERIOD_WORDS_MAX = 3  # "last 30 days", "2026-11-01 to 2026-11-15"


class QueryError(ValueError):
    """Bad `/metric` text; the message says what was wrong and shows the usage."""


@dataclass(frozen=True)
class Target:
    """Who a query is about: "self" (no one named: the asker, or for a leader what they
    lead; `ME` when they said `me`), "user" (a Slack id), "name" (as typed after @), "team"
    (its key) or "org"."""

    kind: Literal["self", "user", "name", "team", "org"]
    value: str = ""


ME = Target("self", "me")  # asked for in so many words: the asker's own numbers


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
    return metric_words(catalog).get(_key(words))


def metric_words(catalog: Catalog) -> dict[str, str]:
    """Every key (`_key`) that names a metric exactly → the metric: its name, else a label,
    else a synonym."""
    words = {k: m for k, m in SYNONYMS.items() if m in catalog.metrics}
    words |= {_key(d.label): n for n, d in catalog.metrics.items()}
    return words | {n: n for n in catalog.metrics}


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
        options = ", ".join(f"`{c}`" for c in close)
        raise QueryError(f"`{clip(word)}` could mean {options}: which one?")
    raise QueryError(f"I don't know a metric called `{clip(word)}`. `/metric list` shows them all.")


def parse_query(text: str, catalog: Catalog, team_keys: dict[str, str]) -> MetricQuery:
    """`team_keys` maps every accepted team word (key, name, channel) to its team key."""
    text = " ".join(text.split())
    if not text:
        raise QueryError("Which metric? " + USAGE)
    compare = bool(_VS.search(text))
    if compare:
        text = _VS.sub(" ", text)
    read = _read(text.split(), team_keys, catalog)
    metric = read.metric
    if metric is None:
        if not read.unknown:
            raise QueryError("Which metric? " + USAGE)
        metric = match_metric(read.unknown.pop(0), catalog)
    if read.unknown:
        said = " ".join(read.unknown)
        if read.period is None:  # what is left over was meant as the period
            raise QueryError(unknown_period(said))
        raise QueryError(f"I didn't understand `{clip(said)}`. {USAGE}")
    period = read.period or "today"
    return MetricQuery(
        metric, read.target, period, compare, "chart" in read.flags, "public" in read.flags
    )


def parse_target(words: list[str], team_keys: dict[str, str]) -> tuple[Target, list[str]]:
    """Who the words are about (default: the asker), in any order, and the other words,
    lowercased. A team's name may take several words ("account executives")."""
    read = _read(words, team_keys, None, periods=False)
    return read.target, [w.lower() for w in read.unknown]


def scoreboard_words(words: list[str], team_keys: dict[str, str]) -> tuple[Target, list[str]]:
    """`parse_target` for `/scoreboard`, which is today's: `today` may be said anywhere
    (`/scoreboard sdr today`); another period is refused with where to ask for it."""
    read = _read(words, team_keys, None)
    if read.period is not None and read.period != "today":
        period = clip(read.period)
        raise QueryError(
            f"A scoreboard is today's. For {period} ask `/metric`, e.g. `/metric calls {period}`."
        )
    return read.target, [w.lower() for w in read.unknown]


@dataclass
class _Read:
    target: Target = Target("self")
    metric: str | None = None
    period: str | None = None
    flags: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)  # as typed


def _read(
    words: list[str], team_keys: dict[str, str], catalog: Catalog | None, *, periods: bool = True
) -> _Read:
    """Sort the words by what they name. With a catalog: the metric (exact names only; a
    leading one first, the longest run of words) and `chart`/`public`; with `periods`, the
    period. Words naming nothing are left `unknown`, in order."""
    read = _Read()
    names = metric_words(catalog) if catalog is not None else None
    i = 0
    if names is not None:
        lead = _metric_at(words, 0, names)
        if lead is not None:
            read.metric, i = lead
    while i < len(words):
        i += _read_at(words, i, read, team_keys, names, periods)
    return read


def _read_at(
    words: list[str],
    i: int,
    read: _Read,
    team_keys: dict[str, str],
    names: dict[str, str] | None,
    periods: bool,
) -> int:
    """Read what starts at `words[i]` into `read`; how many words it took."""
    options: list[tuple[str, str, int]] = []  # (kind, value, words used)
    team = _team_at(words, i, team_keys)
    if team is not None:
        options.append(("team", *team))
    period = _period_at(words, i) if periods else None
    if period is not None:
        options.append(("period", *period))
    metric = _metric_at(words, i, names) if names is not None else None
    if metric is not None and (read.metric is None or not options):
        options.append(("metric", *metric))
    if not any(used > 1 for _, _, used in options) and _read_word(
        words[i], read, team_keys, flags=names is not None
    ):
        return 1  # mentions, channels, @names, org, me and the flags are reserved words
    if not options:
        read.unknown.append(words[i])
        return 1
    most = max(used for _, _, used in options)
    best = [o for o in options if o[2] == most]
    if len(best) > 1:
        raise QueryError(_two_ways(" ".join(words[i : i + most]), best))
    kind, value, used = best[0]
    if kind == "team":
        read.target = _one(read.target, Target("team", value))
    elif kind == "period":
        if read.period is not None:
            raise QueryError(f"One period at a time: `{clip(read.period)}` or `{clip(value)}`?")
        read.period = value
    elif read.metric is not None:
        raise QueryError(f"One metric at a time: `{read.metric}` or `{value}`?")
    else:
        read.metric = value
    return used


def _read_word(word: str, read: _Read, team_keys: dict[str, str], *, flags: bool) -> bool:
    """Read one reserved word (mention, channel, @name, org, me; with `flags`, `chart` and
    `public`) into `read`; False if `word` is none of them."""
    low = word.lower()
    mention, channel = _MENTION.match(word), _CHANNEL.match(word)
    if mention:
        read.target = _one(read.target, Target("user", mention.group(1)))
    elif channel:
        by_channel = find_team(word, team_keys)
        if by_channel is None:
            raise QueryError(_unknown_channel(channel.group(1), channel.group(2), team_keys))
        read.target = _one(read.target, Target("team", by_channel))
    elif low.startswith("@") and len(low) > 1:
        read.target = _one(read.target, Target("name", low[1:]))
    elif low in ORG_WORDS:
        read.target = _one(read.target, Target("org"))
    elif low in ME_WORDS:
        read.target = _one(read.target, ME)
    elif low in FLAGS and flags:
        read.flags.add(low)
    else:
        return False
    return True


def _two_ways(span: str, options: list[tuple[str, str, int]]) -> str:
    what = {"team": "the team `{}`", "period": "the period `{}`", "metric": "the metric `{}`"}
    readings = " or ".join(what[kind].format(clip(value)) for kind, value, _ in options)
    return (
        f"`{clip(span)}` could be {readings}, and I won't guess: put the metric first "
        "(`/metric NAME …`), and name a team by its key or #channel."
    )


def _metric_at(words: list[str], i: int, names: dict[str, str]) -> tuple[str, int] | None:
    """(metric, words used) for the longest run of words from `words[i]` that names a
    metric exactly (`names`: `metric_words`), else None."""
    longest = max((len(k.split("_")) for k in names), default=1)
    for used in range(min(longest, len(words) - i), 0, -1):
        metric = names.get(_key(" ".join(words[i : i + used])))
        if metric is not None:
            return metric, used
    return None


def _team_at(words: list[str], i: int, team_keys: dict[str, str]) -> tuple[str, int] | None:
    """(team key, words used) for the team named from `words[i]`: a name of several words
    ("account executives": the longest wins), else one word (key, name, #channel)."""
    named = _team_name_at(words, i, team_keys)
    if named is not None:
        return named
    if _CHANNEL.match(words[i]):
        return None  # a channel reference is read as one (an unknown one is an error)
    team = find_team(words[i].lower(), team_keys)
    return (team, 1) if team is not None else None


def _period_at(words: list[str], i: int) -> tuple[str, int] | None:
    """(period words, lowercased; words used) for the longest period from `words[i]`."""
    for used in range(min(PERIOD_WORDS_MAX, len(words) - i), 0, -1):
        phrase = " ".join(words[i : i + used]).lower()
        if is_period(phrase):
            return phrase, used
    return None


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
    channel_id = clip(channel_id)
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
    if current != Target("self"):
        raise QueryError("Ask about one person, team or the org at a time.")
    return new
