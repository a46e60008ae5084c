"""The scoreboard's modals: "Details" (the breakdown) and "Why these targets?".

Pure builders (`details_view`, `targets_view`) plus `scoreboard_for_action`, the service the
Slack listeners call: it parses a button value, checks who may see whose numbers and
returns the board. Views stay inside Slack's limits (100 blocks, 24-char titles).
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.config import TargetSet
from metrics.models import Person
from metrics.scoreboard import PersonScoreboard
from metrics.targets import PERIODS
from rhythms import blocks as bk
from rhythms.config import OrgConfig
from rhythms.permissions import can_view_person
from rhythms.scoreboard import ScoreboardSource
from rhythms.scoreboard_message import metric_line, to_green, verdict

LOADING_TITLE = "Scoreboard"


class ScoreboardAccessError(Exception):
    """The button value is malformed, or the clicker may not see that person's numbers."""


def loading_view(title: str = LOADING_TITLE) -> dict[str, object]:
    return bk.modal(title, [bk.section("⏳ Crunching the numbers…")])


def error_view(message: str) -> dict[str, object]:
    return bk.modal(LOADING_TITLE, [bk.section(f":warning: {message}")])


def details_view(board: PersonScoreboard, *, currency: str = "USD") -> dict[str, object]:
    """Every metric with value, target, pace, shortfall and its last 7 days."""
    blocks: list[bk.Block] = [
        bk.header(f"{board.name} · {board.day:%a %d %b}"),
        bk.section(f"*{verdict(board)}*"),
    ]
    for metric in board.metrics[:45]:
        items = [
            f"*{metric.label}*\n{bk.status_dot(metric.status)} "
            f"{bk.fmt_number(metric.value, metric.unit, currency)}",
            "*Target today*\n"
            + (
                bk.fmt_number(metric.target, metric.unit, currency)
                if metric.target is not None
                else "none"
            ),
        ]
        if metric.expected_now is not None:
            items.append(
                "*Due by now (pace)*\n"
                + bk.fmt_number(round(metric.expected_now, 1), metric.unit, currency)
            )
        if metric.shortfall > 0:
            items.append(
                "*Behind by*\n" + bk.fmt_number(round(metric.shortfall, 1), metric.unit, currency)
            )
        if metric.history:
            numbers = ", ".join(bk.fmt_number(v, metric.unit, currency) for v in metric.history)
            items.append(f"*Last 7 days*\n`{bk.sparkline(metric.history)}` {numbers}")
        blocks.append(bk.fields(items))
    green = to_green(board, currency)
    facts = [f"Streak: {board.streak_days} day(s)"]
    if board.team_rank is not None:
        facts.append(f"rank {board.team_rank} of {board.team_size}")
    if green:
        facts.append(f"to turn it green: {green}")
    blocks.append(bk.context(" · ".join(facts), *board.notes[:5]))
    return bk.modal("Scoreboard details", blocks[: bk.VIEW_BLOCKS_MAX])


def _source(
    config: OrgConfig, metric: str, email: str, role: str, team: str | None, period: str
) -> tuple[str, TargetSet] | None:
    """Where the person's `period` target comes from (the precedence of
    `metrics.targets.target_sets`: personal > team key, for reps > role), and that set."""
    person = config.person(email)
    own = person.targets.get(metric) if person is not None else None
    if own is not None and getattr(own, period) is not None:
        return "your personal target", own
    metric_cfg = config.metric(metric)
    if metric_cfg is not None:
        by_team = metric_cfg.targets.get(team) if team and role == "rep" else None
        if by_team is not None and getattr(by_team, period) is not None:
            team_cfg = config.team(team or "")
            return f"the {team_cfg.name if team_cfg else team} team's target", by_team
        by_role = metric_cfg.targets.get(role)
        if by_role is not None and getattr(by_role, period) is not None:
            return f"the target for every {role}", by_role
    return None


def targets_view(
    config: OrgConfig, board: PersonScoreboard, *, role: str, calendar: WorkCalendar
) -> dict[str, object]:
    """Where each target comes from (person > team > role), how pace works, the bands."""
    cal = config.calendar
    local = board.as_of.astimezone(ZoneInfo(board.timezone))
    fraction = calendar.day_fraction_elapsed(local) if local.date() == board.day else 1.0
    days = ", ".join(d.capitalize() for d in cal.working_days)
    blocks: list[bk.Block] = [
        bk.header("Why these targets?"),
        bk.section(
            "*Which target applies:* your own target if RevOps set one, else your team's "
            "(reps), else the one for your role. A target of 0 is no target."
        ),
    ]
    currency = config.currency.reporting
    lines: list[str] = []
    for metric in board.metrics[:40]:
        found = _source(config, metric.metric, board.email, role, board.team_key, "daily")
        where, periods = "", []
        if found is not None:
            where = found[0]
            periods = [
                f"{p} {bk.fmt_number(v, metric.unit, currency)}"
                for p in PERIODS
                if (v := getattr(found[1], p)) is not None
            ]
        if metric.target is None:  # a daily target of 0: not graded
            line = f"• *{metric.label}*: no target today"
            line += f" — {where} is 0" if where else ""
            lines.append(line)
            continue
        line = f"• *{metric.label}*: {bk.fmt_number(metric.target, metric.unit, currency)} today"
        line += f" — {where}" if where else " — spread from a weekly or monthly target"
        if periods:
            line += f" ({', '.join(periods)})"
        lines.append(line)
    blocks.extend(bk.section(chunk) for chunk in bk.chunk_lines(lines or ["No targets set."])[:5])
    org = config.org
    blocks.append(
        bk.section(
            f"*Pace:* the target is spread evenly over working hours "
            f"({cal.workday_start:%H:%M}–{cal.workday_end:%H:%M} on {days}, public holidays off). "
            f"At {local:%H:%M %Z} {fraction:.0%} of {board.day:%A}'s working day had passed, so "
            f"that share of each target was due — of calls, meetings and other counts, the "
            f"whole number (11.1 calls due is 11)."
        )
    )
    blocks.append(
        bk.section(
            f"*Colours:* 🟢 at or above {org.status_green_at:.0%} of pace, 🟡 from "
            f"{org.status_yellow_at:.0%}, 🔴 below."
        )
    )
    blocks.append(bk.context(*(metric_line(m, currency) for m in board.metrics[:9])))
    return bk.modal("Why these targets?", blocks[: bk.VIEW_BLOCKS_MAX])


def parse_button_value(value: str) -> tuple[int, dt.date]:
    try:
        data = json.loads(value)
        return int(data["p"]), dt.date.fromisoformat(str(data["d"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ScoreboardAccessError("this button is out of date: no scoreboard to show") from exc


def button_rhythm(value: str) -> str | None:
    """The rhythm a scoreboard button names (``"r"``, `button_value`), if any."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    rhythm = data.get("r") if isinstance(data, dict) else None
    return rhythm if isinstance(rhythm, str) else None


def scoreboard_for_action(
    session: Session,
    *,
    config: OrgConfig,
    source: ScoreboardSource,
    viewer_slack_id: str,
    value: str,
    now: dt.datetime,
) -> tuple[PersonScoreboard, str]:
    """The board a button points at, and the subject's role, if `viewer_slack_id` may see it.

    Who may see whose is `rhythms.permissions.can_view_person` (everyone their own; managers
    their team and reports, execs and admins anyone's, reps their teammates' only when
    `org.transparent_scoreboards` is on).
    """
    person_id, day = parse_button_value(value)
    subject = session.get(Person, person_id)
    if subject is None:
        raise ScoreboardAccessError("that person is no longer in the directory")
    if subject.slack_user_id != viewer_slack_id:
        viewer = session.scalars(
            select(Person).where(Person.slack_user_id == viewer_slack_id)
        ).first()
        if viewer is None or not can_view_person(viewer, subject, config).allowed:
            raise ScoreboardAccessError("you can only open your own scoreboard")
    board = source.person_scoreboard(
        session, config=config, person_id=person_id, day=day, as_of=now
    )
    return board, subject.role
