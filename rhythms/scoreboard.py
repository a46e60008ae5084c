"""The daily scoreboard: the rep's DM and the manager's team scoreboard.

Composition is pure: `PersonScoreboard`s (from the metrics engine) in, Block Kit out —
`rep_message(board)` and `team_message(team_name, boards, day)` return outbox payloads
(``{"text": fallback, "blocks": [...]}``) and never exceed Slack's message limits. The
rhythm specs at the bottom wire them to the engine; the numbers come from a
`ScoreboardSource` (the metrics engine by default, a fake in tests).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from metrics import scoreboards as metric_scoreboards
from metrics.charts import renderer
from metrics.config import MetricsConfig
from metrics.scoreboard import MetricStatus, PersonScoreboard
from rhythms import blocks as bk
from rhythms.registry import Outgoing, Recipient, RhythmSpec, RunContext

DETAILS_ACTION = "scoreboard_details"
TARGETS_ACTION = "scoreboard_targets"
MAX_TEAM_LINES = 120  # beyond this a team post summarises (a message holds 50 blocks)


class ScoreboardSource(Protocol):
    """Where scoreboards come from (the metrics engine; tests pass fakes)."""

    def person_scoreboard(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        person_id: int,
        day: dt.date,
        as_of: dt.datetime,
    ) -> PersonScoreboard: ...

    def team_scoreboards(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        team_key: str,
        day: dt.date,
        as_of: dt.datetime,
    ) -> list[PersonScoreboard]: ...


class MetricsScoreboards:
    """The metrics engine's `metrics.scoreboards` functions as a `ScoreboardSource`."""

    def person_scoreboard(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        person_id: int,
        day: dt.date,
        as_of: dt.datetime,
    ) -> PersonScoreboard:
        return metric_scoreboards.person_scoreboard(
            session, config=config, person_id=person_id, day=day, as_of=as_of
        )

    def team_scoreboards(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        team_key: str,
        day: dt.date,
        as_of: dt.datetime,
    ) -> list[PersonScoreboard]:
        return metric_scoreboards.team_scoreboards(
            session, config=config, team_key=team_key, day=day, as_of=as_of
        )


# ---------------------------------------------------------------- wording
def graded(board: PersonScoreboard) -> list[MetricStatus]:
    """The metrics the verdict counts: inputs with a target (else anything with one)."""
    inputs = [m for m in board.metrics if m.kind == "input" and m.status != "none"]
    return inputs or [m for m in board.metrics if m.status != "none"]


_POINTS = {"green": 2, "yellow": 1}


def overall_status(board: PersonScoreboard, counted: list[MetricStatus] | None = None) -> str:
    """Green 2 points, yellow 1, red 0: an average of 1.5+ is green, 0.75+ yellow."""
    counted = graded(board) if counted is None else counted
    if not counted:
        return "none"
    points = sum(_POINTS.get(m.status, 0) for m in counted) / len(counted)
    if points >= 1.5:
        return "green"
    if points >= 0.75:
        return "yellow"
    return "red"


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
        return f"{amount} more {_singular(label) if amount == 1 else label}"
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


def button_value(board: PersonScoreboard) -> str:
    """``{"p":7,"d":"2026-11-24"}`` — what compact `json.dumps` gives, without building an
    encoder per message (an int and an ISO date need no escaping)."""
    return f'{{"p":{int(board.person_id)},"d":"{board.day.isoformat()}"}}'


@functools.lru_cache(maxsize=256)
def _as_of_label(as_of: dt.datetime, timezone: str) -> str:
    """'as of 17:30 CST': the same for every rep of a zone in one run, so formatted once."""
    return f"as of {as_of.astimezone(_zone(timezone)):%H:%M %Z}"


# ---------------------------------------------------------------- the rep's DM
def rep_message(
    board: PersonScoreboard, *, currency: str = "USD", yesterday: bool = False
) -> dict[str, Any]:
    """The rep's scoreboard DM: verdict, metrics with pace, what turns it green, buttons."""
    counted = graded(board)
    dot = bk.status_dot(overall_status(board, counted))
    said = verdict(board, counted)
    title = "Yesterday's scoreboard" if yesterday else "Your scoreboard"
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
    if board.team_rank is not None and board.team_size:
        facts.append(f"#{board.team_rank} of {board.team_size} on the team")
    facts.append(_as_of_label(board.as_of, board.timezone))
    context_parts = [" · ".join(facts), *board.notes[:5]]
    blocks.append(bk.context(*context_parts))
    value = button_value(board)
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
    text = f"{dot} {said}" + (f" — {summary}" if summary else "")
    if green:
        text += f". To turn it green: {green}"
    return {"text": bk.clip(text, 500), "blocks": blocks}


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# ---------------------------------------------------------------- the manager's team board
def _pace_share(board: PersonScoreboard) -> float:
    ratios = [min(2.0, m.pace_ratio) for m in graded(board) if m.pace_ratio is not None]
    return sum(ratios) / len(ratios) if ratios else 0.0


def sort_team(boards: Sequence[PersonScoreboard]) -> list[PersonScoreboard]:
    """Best first: by team rank when the metrics engine gave one, else by share of pace."""
    return sorted(
        boards,
        key=lambda b: (
            b.team_rank if b.team_rank is not None else 10**9,
            -_pace_share(b),
            b.name,
        ),
    )


def _worst_gap(board: PersonScoreboard, currency: str) -> str:
    behind = [m for m in graded(board) if m.status == "red"] or [
        m for m in graded(board) if m.status == "yellow"
    ]
    if not behind:
        return ""
    m = behind[0]
    target = f"/{bk.fmt_number(m.target, m.unit, currency)}" if m.target is not None else ""
    return f"{m.label.lower()} {bk.fmt_number(m.value, m.unit, currency)}{target}"


def team_message(
    team_name: str,
    boards: Sequence[PersonScoreboard],
    day: dt.date,
    *,
    currency: str = "USD",
    team_key: str | None = None,
) -> dict[str, Any]:
    """Every rep's status at a glance, best first, with who needs help; fits any team size."""
    ordered = sort_team(boards)
    counts = {
        s: sum(1 for b in ordered if overall_status(b) == s) for s in ("green", "yellow", "red")
    }
    blocks: list[bk.Block] = [bk.header(f"📋 {team_name} scoreboard · {_day_label(day)}")]
    if not ordered:
        blocks.append(bk.section("No reps on this team today."))
        return {"text": f"{team_name} scoreboard: no reps today", "blocks": blocks}
    summary = (
        f"*{counts['green']} of {len(ordered)} reps winning* · "
        f"🟢 {counts['green']}  🟡 {counts['yellow']}  🔴 {counts['red']}"
    )
    blocks.append(bk.section(summary, block_id=f"team_summary:{team_key}" if team_key else None))
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
        lines.append(f"…and {len(ordered) - MAX_TEAM_LINES} more reps")
    blocks.extend(bk.section(chunk) for chunk in bk.chunk_lines(lines)[: bk.MESSAGE_BLOCKS_MAX - 8])
    blocks.append(bk.context(f"Sorted by share of pace · {len(ordered)} reps"))
    text = (
        f"{team_name} scoreboard {_day_label(day)}: {counts['green']} of {len(ordered)} reps "
        f"winning, {counts['red']} need help"
    )
    return {"text": text, "blocks": blocks[: bk.MESSAGE_BLOCKS_MAX]}


# ---------------------------------------------------------------- rhythm wiring
def report_day(ctx: RunContext) -> dt.date:
    """The local day the numbers are for: today, or the previous working day."""
    if ctx.rhythm.options.get("day", "today") == "yesterday":
        return ctx.calendar.previous_working_day(ctx.local_day)
    return ctx.local_day


def _source(scoreboards: ScoreboardSource | None) -> ScoreboardSource:
    return scoreboards if scoreboards is not None else MetricsScoreboards()


def daily_scoreboard_spec(scoreboards: ScoreboardSource | None = None) -> RhythmSpec:
    source = _source(scoreboards)

    def compose(ctx: RunContext, recipients: Sequence[Recipient]) -> list[Outgoing]:
        day = report_day(ctx)
        yesterday = day != ctx.local_day
        currency = ctx.config.currency.reporting
        per_rep_charts = bool(ctx.rhythm.options.get("per_rep_charts", False))  # off: scarce
        by_person: dict[int, PersonScoreboard] = {}
        for team_key in sorted({r.team_key for r in recipients if r.team_key}):
            for board in source.team_scoreboards(
                ctx.session, config=ctx.config, team_key=team_key, day=day, as_of=ctx.now
            ):
                by_person[board.person_id] = board
        out: list[Outgoing] = []
        missing: list[str] = []
        for recipient in recipients:
            if not recipient.slack_user_id:
                missing.append(recipient.email)
                continue
            board = by_person.get(recipient.person_id) or source.person_scoreboard(
                ctx.session,
                config=ctx.config,
                person_id=recipient.person_id,
                day=day,
                as_of=ctx.now,
            )
            payload = rep_message(board, currency=currency, yesterday=yesterday)
            out.append(Outgoing(recipient=recipient.slack_user_id, payload=payload))
            chart = rep_chart(board) if per_rep_charts else None
            if chart is not None:
                out.append(
                    Outgoing(
                        recipient=recipient.slack_user_id,
                        kind="upload",
                        part="chart",
                        thread_part="main",
                        payload=chart,
                    )
                )
        if missing:
            ctx.notes.append(f"no Slack user id, not sent: {', '.join(missing)}")
        return out

    return RhythmSpec(
        kind="daily_scoreboard",
        compose=compose,
        description="Each rep's inputs vs target and pace, as a DM",
    )


def rep_chart(board: PersonScoreboard) -> dict[str, Any] | None:
    """The rep's first graded input over the last 7 days against its daily target."""
    metric = next((m for m in graded(board) if m.history), None)
    if metric is None:
        return None
    days = [
        board.day - dt.timedelta(days=len(metric.history) - 1 - i)
        for i in range(len(metric.history))
    ]
    png = renderer().trend(
        f"{metric.label}, last 7 days",
        days,
        list(metric.history),
        target=metric.target,
        unit=metric.unit,
    )
    return {
        "filename": f"{metric.metric}-{board.day}.png",
        "title": f"{metric.label}: last 7 days",
        "content_base64": base64.b64encode(png).decode(),
    }


def team_chart(
    team_name: str, boards: Sequence[PersonScoreboard], day: dt.date
) -> dict[str, Any] | None:
    """Each rep's share of pace (100% = on pace) as a bar chart upload payload."""
    shares = [(b.name.split()[0], _pace_share(b)) for b in sort_team(boards)][:20]
    if not shares:
        return None
    values = [round(share * 100, 1) for _, share in shares]
    statuses = ["green" if v >= 100 else "yellow" if v >= 80 else "red" for v in values]
    png = renderer().team_bars(
        f"{team_name}: inputs vs pace (%), {day:%b %-d}",
        [name for name, _ in shares],
        values,
        targets=[100.0] * len(values),
        statuses=statuses,
    )
    return {
        "filename": f"team-{day}.png",
        "title": f"{team_name} vs pace",
        "content_base64": base64.b64encode(png).decode(),
    }


def team_scoreboard_spec(scoreboards: ScoreboardSource | None = None) -> RhythmSpec:
    source = _source(scoreboards)

    def compose(ctx: RunContext, recipients: Sequence[Recipient]) -> list[Outgoing]:
        day = report_day(ctx)
        currency = ctx.config.currency.reporting
        in_channel = bool(ctx.rhythm.options.get("post_in_team_channel", False))
        with_chart = bool(ctx.rhythm.options.get("chart", False))
        cache: dict[str, dict[str, Any]] = {}
        charts: dict[str, dict[str, Any] | None] = {}
        out: list[Outgoing] = []
        posted: set[str] = set()
        missing: list[str] = []
        for manager in recipients:
            teams = [t.key for t in ctx.config.teams if t.manager == manager.email]
            if not teams and manager.team_key:
                teams = [manager.team_key]
            for team_key in teams:
                if team_key not in cache:
                    team = ctx.config.team(team_key)
                    boards = source.team_scoreboards(
                        ctx.session, config=ctx.config, team_key=team_key, day=day, as_of=ctx.now
                    )
                    name = team.name if team else team_key
                    cache[team_key] = team_message(
                        name, boards, day, currency=currency, team_key=team_key
                    )
                    charts[team_key] = team_chart(name, boards, day) if with_chart else None
                payload = cache[team_key]
                chart = charts[team_key]
                part = f"team:{team_key}"
                if manager.slack_user_id:
                    out.append(
                        Outgoing(recipient=manager.slack_user_id, payload=payload, part=part)
                    )
                else:
                    missing.append(manager.email)
                team = ctx.config.team(team_key)
                if in_channel and team is not None and team.channel and team_key not in posted:
                    posted.add(team_key)
                    out.append(Outgoing(recipient=team.channel, payload=payload, part=part))
                    if chart is not None:  # uploads are scarce: the chart goes to the channel
                        out.append(
                            Outgoing(
                                recipient=team.channel,
                                kind="upload",
                                part=f"chart:{team_key}",
                                payload=chart,
                            )
                        )
        if missing:
            ctx.notes.append(f"no Slack user id, not sent: {', '.join(sorted(set(missing)))}")
        return out

    return RhythmSpec(
        kind="team_scoreboard",
        compose=compose,
        description="Each manager's team scoreboard (and optionally the team channel)",
    )
