"""The daily scoreboard rhythms: the rep's DM and the manager's team scoreboard.

The rhythm specs wire the messages (`rhythms.scoreboard_message`, pure composition) to the
engine; the numbers come from a `ScoreboardSource` (the metrics engine by default, a fake
in tests). Per-rep and team charts are built here too.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from metrics import scoreboards as metric_scoreboards
from metrics.charts import renderer
from metrics.config import MetricsConfig
from metrics.scoreboard import PersonScoreboard
from rhythms.permissions import covered_teams, sees_teammates
from rhythms.registry import Outgoing, Recipient, RhythmSpec, RunContext
from rhythms.scoreboard_message import (
    graded,
    overall_status,
    pace_share,
    rep_message,
    sort_team,
    team_message,
)


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
            payload = rep_message(
                board, currency=currency, yesterday=yesterday, rhythm=ctx.rhythm_name
            )
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
    """Each rep's share of pace (100% = on pace) as a bar chart upload payload, each bar in
    the colour of the rep's dot on the board (`overall_status`)."""
    ordered = sort_team(boards)[:20]
    if not ordered:
        return None
    png = renderer().team_bars(
        f"{team_name}: inputs vs pace, {day:%a %b %-d}",
        [b.name.split()[0] for b in ordered],
        [pace_share(b) for b in ordered],
        targets=[1.0] * len(ordered),
        statuses=[overall_status(b) for b in ordered],
        unit="percent",
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
        # Where scoreboards are private, the channel (the team's reps are in it) gets the
        # counts only, and no chart: its bars are the reps' lines.
        transparent = ctx.config.org.transparent_scoreboards
        with_chart = bool(ctx.rhythm.options.get("chart", False)) and transparent
        cache: dict[str, dict[str, Any]] = {}
        channel_payloads: dict[str, dict[str, Any]] = {}
        charts: dict[str, dict[str, Any] | None] = {}
        out: list[Outgoing] = []
        posted: set[str] = set()
        missing: list[str] = []
        for manager in recipients:
            for team_key in covered_teams(ctx.config, manager.email, manager.team_key):
                if team_key in ctx.teams_off:  # switched off for this team: no post
                    continue
                if team_key not in cache:
                    team = ctx.config.team(team_key)
                    boards = source.team_scoreboards(
                        ctx.session, config=ctx.config, team_key=team_key, day=day, as_of=ctx.now
                    )
                    name = team.name if team else team_key
                    cache[team_key] = team_message(
                        name, boards, day, currency=currency, team_key=team_key
                    )
                    channel_payloads[team_key] = (
                        cache[team_key]
                        if transparent
                        else team_message(
                            name, boards, day, currency=currency, team_key=team_key, named=False
                        )
                    )
                    charts[team_key] = team_chart(name, boards, day) if with_chart else None
                # A rep in the audience reads what the team's channel reads: where
                # scoreboards are private, the counts only, never a teammate's line.
                seen = sees_teammates(manager, ctx.config)
                payload = cache[team_key] if seen else channel_payloads[team_key]
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
                    out.append(
                        Outgoing(
                            recipient=team.channel, payload=channel_payloads[team_key], part=part
                        )
                    )
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
