"""The App Home tab: the person's scoreboard today and this week, their open MAPLE prompt,
alerts that concern them, and for admins the rhythm switchboard.

`home_view(session, config=..., slack_user_id=..., now=...)` is the whole view (pure apart
from reading the store); `bot/` publishes it with `views.publish`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.alert_expiry import firing_now
from rhythms.alert_labels import rule_label, subject_names
from rhythms.alert_state import history
from rhythms.blocks import (
    actions,
    button,
    context,
    divider,
    fmt_number,
    header,
    section,
    sparkline,
    status_dot,
)
from rhythms.config import OrgConfig
from rhythms.maple import get_reply, maple_rhythms, week_label
from rhythms.maple_metrics import managed_teams, scope_label, week_figures
from rhythms.maple_rhythm import OPEN_ACTION as MAPLE_OPEN
from rhythms.maple_rhythm import current_week
from rhythms.permissions import alert_concerns, is_admin, viewer_for
from rhythms.registry import configured_audience
from rhythms.scoreboard import MetricsScoreboards, ScoreboardSource
from rhythms.switchboard import rhythm_states, usage
from rhythms.switchboard_commands import team_label
from rhythms.team_week import team_week_figures

TOGGLE_ACTION = "switchboard_toggle"
RETIME_ACTION = "switchboard_retime"
PREVIEW_ACTION = "switchboard_preview"
RETIME_CALLBACK = "switchboard_retime_submit"


def home_view(
    session: Session,
    *,
    config: OrgConfig,
    slack_user_id: str,
    now: dt.datetime,
    source: ScoreboardSource | None = None,
) -> dict[str, Any]:
    person = viewer_for(session, slack_user_id)
    if person is None:
        return {
            "type": "home",
            "blocks": [
                header("Drumbeat"),
                section(
                    "I don't know you yet: ask your RevOps admin to add your email to "
                    "`drumbeat.toml` (or to run the Slack directory sync)."
                ),
            ],
        }
    zone = person_timezone(person, config.org.timezone)
    local = now.astimezone(ZoneInfo(zone))
    blocks: list[dict[str, Any]] = [header(f"Drumbeat · {person.name}")]
    blocks += _scoreboard(session, config, person, local, now, source or MetricsScoreboards())
    blocks += _week(session, config, person, now)
    blocks += _maple(session, config, person, now)
    blocks += _alerts(session, config, person, now)
    if is_admin(person):
        blocks += switchboard_blocks(session, config=config, now=now, zone=zone)
        blocks += alert_log_blocks(session, zone=zone)
    blocks.append(context(f"Updated {local:%a %H:%M} ({zone}) · `/drumbeat help` for commands"))
    return {"type": "home", "blocks": blocks[:100]}


def _scoreboard(
    session: Session,
    config: OrgConfig,
    person: Person,
    local: dt.datetime,
    now: dt.datetime,
    source: ScoreboardSource,
) -> list[dict[str, Any]]:
    if person.role != "rep":
        return []
    board = source.person_scoreboard(
        session, config=config, person_id=person.id, day=local.date(), as_of=now
    )
    currency = config.currency.reporting
    lines = [
        f"{status_dot(m.status)} *{m.label}* {fmt_number(m.value, m.unit, currency)}"
        + (
            f" / {fmt_number(m.expected_now, m.unit, currency)} pace"
            if m.expected_now is not None
            else ""
        )
        + (f"  `{sparkline(m.history)}`" if m.history else "")
        for m in board.metrics
    ]
    rank = f" · #{board.team_rank} of {board.team_size} in team" if board.team_rank else ""
    streak = f" · 🔥 {board.streak_days}-day streak" if board.streak_days else ""
    return [
        section(
            f"*Today* ({board.on_pace} of {board.with_target} on pace{rank}{streak})\n"
            + ("\n".join(lines) or "No targets set for you yet.")
        )
    ]


def _week(
    session: Session, config: OrgConfig, person: Person, now: dt.datetime
) -> list[dict[str, Any]]:
    """The week so far: a rep's own; a manager's teams' as `/metric TEAM this week` counts
    them (everyone on the teams, the manager's own part named; `rhythms.team_week`)."""
    from rhythms.maple import week_bounds, week_key

    local = now.astimezone(ZoneInfo(person_timezone(person, config.org.timezone)))
    week = week_key(local.date())
    teams = managed_teams(config, person)
    figures: list[Any]
    if teams:
        monday, sunday = week_bounds(week)
        figures = team_week_figures(
            session,
            config=config,
            manager=person,
            teams=teams,
            monday=monday,
            sunday=sunday,
            now=now,
        )
    else:
        figures = week_figures(session, config=config, person=person, week=week, now=now)
    if not figures:
        return []
    scope = scope_label(config, person) if person.role != "rep" else "This week"
    currency = config.currency.reporting
    lines = []
    for f in figures[:8]:
        line = (
            f"{status_dot(f.status)} *{f.label}* {fmt_number(f.value, f.unit, currency)} of "
            f"{fmt_number(f.target or 0, f.unit, currency)}"
        )
        own = getattr(f, "own", 0.0)  # a manager's own calls are in their team's total
        lines.append(
            line + (f" (incl. your own {fmt_number(own, f.unit, currency)})" if own else "")
        )
    return [section(f"*{scope}*\n" + "\n".join(lines))]


def _maple(
    session: Session, config: OrgConfig, person: Person, now: dt.datetime
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, rhythm in maple_rhythms(session, config).items():
        if person.id not in {r.person_id for r in configured_audience(session, config, rhythm)}:
            continue
        week = current_week(rhythm, person_timezone(person, config.org.timezone), now)
        reply = get_reply(session, rhythm=name, period_key=week, person_id=person.id)
        done = reply is not None and reply.status == "submitted"
        state = "✅ submitted — you can still edit it" if done else "📝 waiting for you"
        label = "Edit MAPLE" if done else "Open MAPLE"
        out += [
            divider(),
            section(f"*MAPLE · {week_label(week)}*: {state}"),
            actions(
                button(label, MAPLE_OPEN, f"{name}|{week}", style=None if done else "primary"),
                block_id=f"home_maple_{name}",
            ),
        ]
    return out


def _alerts(
    session: Session, config: OrgConfig, person: Person, now: dt.datetime
) -> list[dict[str, Any]]:
    rows = firing_now(session, config=config, now=now)
    mine = [r for r in rows if alert_concerns(r.subject, person, config)]
    if not mine:
        return []
    shown = mine[:15]
    names = subject_names(session, config, {r.subject for r in shown})
    lines = [
        f"• {rule_label(config, r.rule)} · {names.get(r.subject, r.subject)}"
        + (f" · acked by <@{r.acked_by}>" if r.acked_by else "")
        for r in shown
    ]
    return [divider(), section(f"*Alerts firing* ({len(mine)})\n" + "\n".join(lines))]


def switchboard_blocks(
    session: Session, *, config: OrgConfig, now: dt.datetime, zone: str
) -> list[dict[str, Any]]:
    """Admin-only: each rhythm with on/off, change time and 'send me a preview now', the
    teams it is switched off for and its use over the last 30 days (whether anyone reads
    it is what the switch is for)."""
    blocks: list[dict[str, Any]] = [divider(), section("*Rhythm switchboard* (admins)")]
    used = usage(session, since=now - dt.timedelta(days=30))
    for state in rhythm_states(session, config=config, now=now, zone=zone)[:20]:
        nxt = f"next {state.next_run:%a %H:%M}" if state.next_run else "off"
        who = (
            f" · changed by <@{state.changed_by}> {state.changed_at:%b %-d %H:%M} UTC"
            if state.changed_by and state.changed_at
            else " · from drumbeat.toml"
        )
        u = used.get(state.name)
        use = (
            f"30 days: {u.sent} sent, {u.interactions} interactions by {u.people} "
            f"{'person' if u.people == 1 else 'people'}"
            if u
            else "no use in 30 days"
        )
        teams = (
            "\nOff for " + ", ".join(team_label(config, k) for k in state.teams_off)
            if state.teams_off
            else ""
        )
        blocks.append(
            section(
                f"{'🟢' if state.enabled else '⚪'} *{state.name}* `{state.schedule}` · {nxt}{who}"
                f"\n{use}{teams}"
            )
        )
        blocks.append(
            actions(
                button(
                    "Turn off" if state.enabled else "Turn on",
                    TOGGLE_ACTION,
                    state.name,
                    style="danger" if state.enabled else "primary",
                ),
                button("Change time", RETIME_ACTION, state.name),
                button("Send me a preview now", PREVIEW_ACTION, state.name),
                block_id=f"switchboard_{state.name}"[:255],
            )
        )
    return blocks


def alert_log_blocks(session: Session, *, zone: str, limit: int = 12) -> list[dict[str, Any]]:
    """Admin-only: the latest alert firings, acknowledgements, snoozes and resolutions."""
    events = history(session, limit=limit)
    if not events:
        return []
    tz = ZoneInfo(zone)
    lines = [
        f"• {e.at.astimezone(tz):%a %b %-d %H:%M} · `{e.rule}` · {e.subject} · *{e.event}*"
        + (f" by <@{e.actor}>" if e.actor else "")
        for e in events
    ]
    return [
        divider(),
        section("*Alert log* (latest; `drumbeat alerts log` for more)\n" + "\n".join(lines)),
    ]


def retime_modal(name: str, schedule: str, error: str | None = None) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": "value",
        "initial_value": schedule,
        "max_length": 64,
    }
    blocks: list[dict[str, Any]] = [
        section(
            f"When should *{name}* run? Cron: minute hour day month weekday, in each "
            "recipient's own time zone unless the rhythm has a fixed zone."
        ),
        {
            "type": "input",
            "block_id": "schedule",
            "element": element,
            "label": {"type": "plain_text", "text": "Schedule (cron)"},
            "hint": {"type": "plain_text", "text": "e.g. 30 17 * * mon-fri = 17:30 on weekdays"},
        },
    ]
    if error:
        blocks.append(context(f"⚠️ {error}"))
    return {
        "type": "modal",
        "callback_id": RETIME_CALLBACK,
        "private_metadata": name,
        "title": {"type": "plain_text", "text": "Change rhythm time"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
