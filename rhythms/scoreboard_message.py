"""The daily scoreboard's messages: the rep's DM and the manager's team scoreboard.

Composition is pure: `PersonScoreboard`s (from the metrics engine) in, Block Kit out —
`rep_message(board)` and `team_message(team_name, boards, day)` return outbox payloads
(``{"text": fallback, "blocks": [...]}``) and never exceed Slack's message limits. The
rhythm specs that send them are in `rhythms.scoreboard`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Sequence
from typing import Any

from metrics.scoreboard import MetricStatus, PersonScoreboard
from metrics.scoreboard import graded as graded  # re-exported: the rule lives in metrics
from metrics.scoreboard import overall_status as overall_status
from rhythms import blocks as bk

DETAILS_ACTION = "scoreboard_details"
TARGETS_ACTION = "scoreboard_targets"
MAX_TEAM_LINES = 120  # beyond this a team post summarises (a message holds 50 blocks)


# ---------------------------------------------------------------- wording
def verdict(board: PersonScoreboard, counted: list[MetricStatus] | None = None) -> str:
    """'Winning: 3 of 4 inputs on pace' and the like (no emoji)."""
    counted = graded(board) if counted is None else counted
    total = len(counted)
    if total == 0:
        return "No targets for today"
    green = sum(1 for m in counted if m.status == "green")
    word = {"green": "Winning", "yellow": "Close", "red": "Behind"}[overall_status(board, counted)]
    noun = "input" if total == 1 else "inputs"
    if green == total:
        return f"{word}: all {total} {noun} on pace" if total > 1 else f"{word}: on pace"
    return f"{word}: {green} of {total} {noun} on pace"


def _singular(label: str) -> str:
    first, _, rest = label.partition(" ")
    if first.endswith("ies"):
        first = first[:-3] + "y"
    elif first.endswith("s") and not first.endswith("ss"):
        first = first[:-1]
    return f"{first} {rest}".strip()


def needed(metric: MetricStatus, currency: str = "USD") -> str | None:
    """'4 more calls' for a metric behind pace, else None."""
    if metric.status in ("green", "none") or metric.shortfall <= 0:
        return None
    label = metric.label.lower()
    if metric.unit == "count":
        amount = math.ceil(metric.shortfall - 1e-9)
        return f"{amount:,} more {_singular(label) if amount == 1 else label}"
    return f"{bk.fmt_number(metric.shortfall, metric.unit, currency)} more {label}"


def to_green(
    board: PersonScoreboard, currency: str = "USD", counted: list[MetricStatus] | None = None
) -> str | None:
    """'4 more calls and 1 more meeting booked', or None when nothing is behind."""
    counted = graded(board) if counted is None else counted
    parts = [p for p in (needed(m, currency) for m in counted) if p]
    return bk.human_join(parts) if parts else None


def metric_line(metric: MetricStatus, currency: str = "USD") -> str:
    value = bk.fmt_number(metric.value, metric.unit, currency)
    line = f"{bk.status_dot(metric.status)} *{metric.label}*  {value}"
    if metric.target is not None:
        line += f" / {bk.fmt_number(metric.target, metric.unit, currency)}"
    if metric.expected_now is not None and metric.status != "green":
        line += f" · pace {bk.fmt_number(round(metric.expected_now, 1), metric.unit, currency)}"
    if metric.history:
        line += f"  `{bk.sparkline(metric.history)}`"
    return line


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.lru_cache(maxsize=64)
def _day_label(day: dt.date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def button_value(board: PersonScoreboard, rhythm: str | None = None) -> str:
    """``{"p":7,"d":"2026-11-24"}`` — what compact `json.dumps` gives, without building an
    encoder per message (an int and an ISO date need no escaping) — with ``"r"``, the
    rhythm that sent it, when given: a click counts under that rhythm's name."""
    head = f'{{"p":{int(board.person_id)},"d":"{board.day.isoformat()}"'
    if rhythm is None:
        return head + "}"
    return f'{head},"r":{json.dumps(rhythm, separators=(",", ":"))}}}'


@functools.lru_cache(maxsize=256)
def _as_of_label(as_of: dt.datetime, timezone: str) -> str:
    """'as of 17:30 CST': the same for every rep of a zone in one run, so formatted once."""
    return f"as of {as_of.astimezone(_zone(timezone)):%H:%M %Z}"


# ---------------------------------------------------------------- the rep's DM
def rep_message(
    board: PersonScoreboard,
    *,
    currency: str = "USD",
    yesterday: bool = False,
    rhythm: str | None = None,
    own: bool = True,
) -> dict[str, Any]:
    """The rep's scoreboard DM: verdict, metrics with pace, what turns it green, buttons.
    `own` False (a leader's `/scoreboard @dana`): the title and the notification name whose
    board it is."""
    counted = graded(board)
    dot = bk.status_dot(overall_status(board, counted))
    said = verdict(board, counted)
    title = _title(board, yesterday=yesterday, own=own)
    blocks: list[bk.Block] = [
        bk.header(f"📊 {title} · {_day_label(board.day)}"),
        bk.section(f"{dot} *{said}*"),
    ]
    lines = [metric_line(m, currency) for m in board.metrics[:40]]
    blocks.extend(bk.section(chunk) for chunk in bk.chunk_lines(lines)[:5])
    green = to_green(board, currency, counted)
    if green:
        blocks.append(bk.section(f"*To turn it green:* {green}"))
    facts: list[str] = []
    if board.streak_days:
        facts.append(f"🔥 {board.streak_days}-day streak")
    if board.team_rank is not None and board.team_size > 1:  # "#1 of 1" tells nothing
        facts.append(f"#{board.team_rank} of {board.team_size} on the team")
    facts.append(_as_of_label(board.as_of, board.timezone))
    context_parts = [" · ".join(facts), *board.notes[:5]]
    blocks.append(bk.context(*context_parts))
    value = button_value(board, rhythm)
    blocks.append(
        bk.actions(
            bk.button("Details", DETAILS_ACTION, value, style="primary"),
            bk.button("Why these targets?", TARGETS_ACTION, value),
            block_id="scoreboard_actions",
        )
    )
    summary = ", ".join(
        f"{m.label.lower()} {bk.fmt_number(m.value, m.unit, currency)}"
        + (f"/{bk.fmt_number(m.target, m.unit, currency)}" if m.target is not None else "")
        for m in board.metrics[:6]
    )
    text = ("" if own else f"{title}: ") + f"{dot} {said}" + (f" — {summary}" if summary else "")
    if green:
        text += f". To turn it green: {green}"
    return {"text": bk.clip(text, 500), "blocks": blocks}


def _title(board: PersonScoreboard, *, yesterday: bool, own: bool) -> str:
    """'Your scoreboard', 'Yesterday's scoreboard', or 'Aisha Khan's scoreboard'."""
    if own:
        return "Yesterday's scoreboard" if yesterday else "Your scoreboard"
    return f"{board.name}'s scoreboard" + (" (yesterday)" if yesterday else "")


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# ---------------------------------------------------------------- the manager's team board
def pace_share(board: PersonScoreboard) -> float:
    ratios = [min(2.0, m.pace_ratio) for m in graded(board) if m.pace_ratio is not None]
    return sum(ratios) / len(ratios) if ratios else 0.0


def sort_team(boards: Sequence[PersonScoreboard]) -> list[PersonScoreboard]:
    """Best first: by team rank when the metrics engine gave one, else by share of pace."""
    return sorted(
        boards,
        key=lambda b: (
            b.team_rank if b.team_rank is not None else 10**9,
            -pace_share(b),
            b.name,
        ),
    )


def _worst_gap(board: PersonScoreboard, currency: str) -> str:
    """The red or yellow metric furthest behind: the lowest value ÷ pace (the first in config
    order on a tie)."""
    behind = [m for m in graded(board) if m.status in ("red", "yellow")]
    if not behind:
        return ""
    m = min(behind, key=lambda m: m.pace_ratio if m.pace_ratio is not None else 0.0)
    target = f"/{bk.fmt_number(m.target, m.unit, currency)}" if m.target is not None else ""
    return f"{m.label.lower()} {bk.fmt_number(m.value, m.unit, currency)}{target}"


def _reps(n: int) -> str:
    return f"{n:,} rep" if n == 1 else f"{n:,} reps"


PRIVATE_NOTE = (
    "Scoreboards are private in this workspace: each rep sees their own numbers, "
    "managers see everyone's lines."
)


def team_message(
    team_name: str,
    boards: Sequence[PersonScoreboard],
    day: dt.date,
    *,
    currency: str = "USD",
    team_key: str | None = None,
    named: bool = True,
) -> dict[str, Any]:
    """Every rep's status at a glance, best first, with who needs help; fits any team size.
    With `named` False (scoreboards private, shown to reps) only the counts, no rep's line."""
    ordered = sort_team(boards)
    counts = {
        s: sum(1 for b in ordered if overall_status(b) == s) for s in ("green", "yellow", "red")
    }
    blocks: list[bk.Block] = [bk.header(f"📋 {team_name} scoreboard · {_day_label(day)}")]
    if not ordered:
        blocks.append(bk.section("No reps on this team today."))
        return {"text": f"{team_name} scoreboard: no reps today", "blocks": blocks}
    winning = f"{counts['green']} of {_reps(len(ordered))} winning"
    summary = f"*{winning}* · 🟢 {counts['green']}  🟡 {counts['yellow']}  🔴 {counts['red']}"
    blocks.append(bk.section(summary, block_id=f"team_summary:{team_key}" if team_key else None))
    needs = "needs" if counts["red"] == 1 else "need"
    text = f"{team_name} scoreboard {_day_label(day)}: {winning}, {counts['red']} {needs} help"
    if not named:
        blocks.append(bk.context(PRIVATE_NOTE))
        return {"text": text, "blocks": blocks}
    red = [b for b in ordered if overall_status(b) == "red"]
    if red:
        help_lines = [f"• {b.name}: {_worst_gap(b, currency)}" for b in red[:10]]
        if len(red) > 10:
            help_lines.append(f"…and {len(red) - 10} more")
        blocks.append(bk.section("*Needs help:*\n" + "\n".join(help_lines)))
    blocks.append(bk.divider())
    lines: list[str] = []
    for position, board in enumerate(ordered[:MAX_TEAM_LINES], start=1):
        counted = graded(board)
        green = sum(1 for m in counted if m.status == "green")
        gap = _worst_gap(board, currency)
        dot = bk.status_dot(overall_status(board))
        line = f"{position}. {dot} {board.name} — {green}/{len(counted)} on pace"
        lines.append(line + (f" · {gap}" if gap else ""))
    if len(ordered) > MAX_TEAM_LINES:
        more = len(ordered) - MAX_TEAM_LINES
        lines.append(f"…and {more:,} more rep{'' if more == 1 else 's'}")
    blocks.extend(bk.section(chunk) for chunk in bk.chunk_lines(lines)[: bk.MESSAGE_BLOCKS_MAX - 8])
    blocks.append(bk.context(f"Sorted by share of pace · {_reps(len(ordered))}"))
    return {"text": text, "blocks": blocks[: bk.MESSAGE_BLOCKS_MAX]}
