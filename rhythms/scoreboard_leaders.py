"""Leaders' scoreboards on demand (`/scoreboard` for a manager, an exec, `/scoreboard org`).

Pure composition, like `rhythms.scoreboard_message`: `org_message` is the org at a glance,
one line per team (green/yellow/red counts, no rep named, so it is safe wherever org
numbers may be seen); `teams_message` puts a manager's team boards (`team_message` each)
in one reply, down to their summaries when all of them would not fit in a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from metrics.scoreboard import PersonScoreboard
from rhythms import blocks as bk
from rhythms.scoreboard_message import overall_status

ORG_NOTE = "`/scoreboard TEAM` for a team's reps"


def _counts(boards: Sequence[PersonScoreboard]) -> dict[str, int]:
    statuses = [overall_status(b) for b in boards]
    return {s: statuses.count(s) for s in ("green", "yellow", "red")}


def _reps(n: int) -> str:
    return f"{n:,} rep" if n == 1 else f"{n:,} reps"


def _day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def org_message(
    org_name: str, teams: Sequence[tuple[str, Sequence[PersonScoreboard]]], day: dt.date
) -> dict[str, Any]:
    """'5 of 8 reps winning' for the org, then a line per team (name, boards) in the order
    given; a team with no reps says so."""
    everyone = [b for _, boards in teams for b in boards]
    total = _counts(everyone)
    winning = f"{total['green']} of {_reps(len(everyone))} winning"
    lines = []
    for name, boards in teams:
        if not boards:
            lines.append(f"• *{bk.escaped(name)}* — no reps today")
            continue
        c = _counts(boards)
        lines.append(
            f"• *{bk.escaped(name)}* — {c['green']} of {_reps(len(boards))} winning · "
            f"🟢 {c['green']}  🟡 {c['yellow']}  🔴 {c['red']}"
        )
    blocks: list[bk.Block] = [
        bk.header(f"📋 {org_name} scoreboard · {_day(day)}"),
        bk.section(f"*{winning}* · 🟢 {total['green']}  🟡 {total['yellow']}  🔴 {total['red']}"),
        bk.divider(),
    ]
    chunks = bk.chunk_lines(lines) or ["No teams configured."]
    blocks.extend(bk.section(chunk) for chunk in chunks[: bk.MESSAGE_BLOCKS_MAX - 4])
    blocks.append(bk.context(f"{ORG_NOTE} · {_reps(len(everyone))} in {len(teams)} teams"))
    text = f"{org_name} scoreboard {_day(day)}: {winning}"
    return {"text": text, "blocks": blocks[: bk.MESSAGE_BLOCKS_MAX]}


def teams_message(payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several team boards in one message, divided; each cut to its header and summary
    when the whole would pass Slack's 50 blocks."""
    if len(payloads) == 1:
        return payloads[0]
    parts = [list(p["blocks"]) for p in payloads]
    if sum(len(p) for p in parts) + len(parts) - 1 > bk.MESSAGE_BLOCKS_MAX:
        parts = [p[:2] for p in parts]
        parts[-1] = [*parts[-1], bk.context(ORG_NOTE)]
    blocks: list[bk.Block] = []
    for i, part in enumerate(parts):
        if i:
            blocks.append(bk.divider())
        blocks.extend(part)
    text = bk.clip("; ".join(str(p["text"]) for p in payloads), bk.NOTIFICATION_TEXT_MAX)
    return {"text": text, "blocks": blocks[: bk.MESSAGE_BLOCKS_MAX]}
