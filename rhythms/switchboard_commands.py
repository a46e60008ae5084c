"""`/drumbeat rhythms` (every rhythm: on/off, next run, teams switched off, usage) and the
admins' `/drumbeat rhythm on|off NAME [TEAM]` and `/drumbeat rhythm time NAME "CRON"`.

A team after the name switches the rhythm for that team only (`rhythms.rhythm_teams`); a
rhythm has one schedule, so `time` for one team is refused with how to do it. Anything
else after a subcommand is refused, never ignored.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.blocks import context, header, section
from rhythms.config import OrgConfig
from rhythms.metric_query import config_team_words, find_team
from rhythms.permissions import covered_teams
from rhythms.registry import configured_audience
from rhythms.reply import Reply, text_reply
from rhythms.rhythm_teams import left_out, teams_off
from rhythms.switchboard import (
    RhythmState,
    command_usage,
    rhythm_states,
    set_rhythm,
    set_rhythm_for_team,
    usage,
)

RHYTHM_USAGE = (
    "Use `/drumbeat rhythm on|off NAME` (everyone), `/drumbeat rhythm on|off NAME TEAM` "
    '(one team) or `/drumbeat rhythm time NAME "30 17 * * mon-fri"`.'
)


def team_label(config: OrgConfig, key: str) -> str:
    team = config.team(key)
    return f"{team.name} (`{key}`)" if team else f"`{key}`"


def rhythms_reply(session: Session, *, config: OrgConfig, now: dt.datetime, zone: str) -> Reply:
    since = now - dt.timedelta(days=30)
    used = usage(session, since=since)
    lines = []
    for s in rhythm_states(session, config=config, now=now, zone=zone):
        state = "🟢 on" if s.enabled else "⚪ off"
        nxt = f"next {s.next_run:%a %b %-d %H:%M}" if s.next_run else "not scheduled"
        u = used.get(s.name)
        use = (
            f"{u.sent} sent, {u.interactions} interactions by {u.people} people"
            if u
            else "no use in 30 days"
        )
        who = f" · changed by <@{s.changed_by}>" if s.changed_by else ""
        teams = (
            " · off for " + ", ".join(team_label(config, k) for k in s.teams_off)
            if s.teams_off
            else ""
        )
        lines.append(f"{state} *{s.name}* `{s.schedule}` · {nxt}{teams} · {use}{who}")
    commands = [
        f"*{name}* · {u.uses} use{'' if u.uses == 1 else 's'} by {u.people} "
        f"{'person' if u.people == 1 else 'people'}"
        for name, u in command_usage(session, since=since).items()
    ]
    return Reply(
        "Rhythms",
        [
            header("Rhythms"),
            section("\n".join(lines) or "none configured"),
            section("*Commands and App Home*\n" + ("\n".join(commands) or "no use in 30 days")),
            context(
                f"Times in {zone}. Usage over the last 30 days: sent counts each recipient "
                "once per run."
            ),
        ],
    )


def rhythm_admin(
    session: Session,
    *,
    config: OrgConfig,
    viewer: Person,
    args: list[str],
    now: dt.datetime,
    zone: str,
) -> Reply:
    """`on|off NAME`, `on|off NAME TEAM`, `time NAME "CRON"` (the viewer is an admin)."""
    if len(args) < 2:
        return text_reply(RHYTHM_USAGE)
    action, name, rest = args[0].lower(), args[1], args[2:]
    if action not in ("on", "off", "time"):
        return text_reply(RHYTHM_USAGE)
    if name not in config.rhythms:
        known = ", ".join(sorted(config.rhythms)) or "none configured"
        return text_reply(f"Not changed: no rhythm `{name[:60]}`: known are {known}")
    actor = viewer.slack_user_id or viewer.email
    team = find_team(" ".join(rest), config_team_words(config)) if rest else None
    try:
        if action in ("on", "off") and rest:
            if team is None:
                known = ", ".join(sorted(t.key for t in config.teams)) or "none configured"
                raise ValueError(f"no team `{' '.join(rest)[:60]}`: known are {known}")
            if config.rhythm_kind(name) == "alerts":
                return text_reply(_no_team_alerts(config, name, team))
            return _team_switched(
                session,
                config=config,
                name=name,
                team_key=team,
                on=action == "on",
                actor=actor,
                now=now,
            )
        if action in ("on", "off"):
            state = set_rhythm(
                session, config=config, name=name, actor=actor, now=now, enabled=action == "on"
            )
        elif action == "time" and rest and find_team(rest[0], config_team_words(config)):
            return text_reply(_no_team_schedule(config, name, rest[0]))
        elif action == "time" and len(rest) == 1:
            state = set_rhythm(
                session, config=config, name=name, actor=actor, now=now, schedule=rest[0]
            )
        elif action == "time" and len(rest) > 1:
            return text_reply(
                f'Not changed: put the schedule in quotes: `/drumbeat rhythm time {name} "'
                f'{" ".join(rest)[:60]}"`.'
            )
        else:
            return text_reply(RHYTHM_USAGE)
    except ValueError as exc:
        return text_reply(f"Not changed: {exc}")
    return _switched(name, state, zone)


def _switched(name: str, state: RhythmState, zone: str) -> Reply:
    verb = "on" if state.enabled else "off"
    nxt = f" · next {state.next_run.astimezone(ZoneInfo(zone)):%a %H:%M}" if state.next_run else ""
    text = f"*{name}* is now *{verb}* · `{state.schedule}` ({state.timezone}){nxt}"
    return Reply(f"{name} is {verb}", [section(text)])


def _team_switched(
    session: Session,
    *,
    config: OrgConfig,
    name: str,
    team_key: str,
    on: bool,
    actor: str,
    now: dt.datetime,
) -> Reply:
    changed, state = set_rhythm_for_team(
        session, config=config, name=name, team_key=team_key, enabled=on, actor=actor, now=now
    )
    label = team_label(config, team_key)
    if on:
        text = (
            f"*{name}* is *on for {label}* again."
            if changed
            else f"*{name}* was not switched off for {label}: nothing changed."
        )
        if not state.enabled:
            text += f" It is off for everyone, though: `/drumbeat rhythm on {name}` switches it on."
        return Reply(f"{name} on for {team_key}", [section(text)])
    kind = config.rhythm_kind(name)
    posts = kind == "team_scoreboard"
    out = _people_left_out(session, config, name, team_key)
    text = (
        f"*{name}* is now *off for {label}*"
        if changed
        else f"*{name}* was already *off for {label}*"
    )
    left = [f"its {team_label(config, team_key)} posts"] if posts else []
    if out or not posts:
        left.append(f"{out} {'person' if out == 1 else 'people'}")
    text += (
        f", on for everyone else: {' and '.join(left)} left out. "
        f"`/drumbeat rhythm on {name} {team_key}` undoes it."
    )
    if out == 0 and not posts:
        text += " Nobody in its audience is on that team, so this changes nothing it sends now."
    if not state.enabled:
        text += " (It is off for everyone right now.)"
    return Reply(f"{name} off for {team_key}", [section(text)])


def _people_left_out(session: Session, config: OrgConfig, name: str, team_key: str) -> int:
    """People in the rhythm's configured audience left out because of `team_key`'s switch."""
    off = teams_off(session, name)
    return sum(
        1
        for r in configured_audience(session, config, config.rhythms[name])
        if team_key in covered_teams(config, r.email, r.team_key)
        and left_out(config, r.email, r.team_key, off)
    )


def _no_team_alerts(config: OrgConfig, name: str, team_key: str) -> str:
    return (
        f"Not changed: alerts go by their rules, each with its own scope, not by a team "
        f"switch. To leave {team_label(config, team_key)} out of a rule, narrow its "
        f"`scope.teams` in drumbeat.toml (or set the rule's `enabled = false`); "
        f"`/drumbeat rhythm off {name}` stops every alert."
    )


def _no_team_schedule(config: OrgConfig, name: str, team_word: str) -> str:
    kind = config.rhythm_kind(name)
    key = find_team(team_word, config_team_words(config)) or team_word
    example = "" if kind == "team_scoreboard" else f' (e.g. `teams = ["{key}"]`)'
    return (
        f"Not changed: a rhythm has one schedule, so it can't be retimed for one team. To run "
        f"*{name}* at another time for {team_label(config, key)}, give that team a rhythm of "
        f'its own in drumbeat.toml — `[rhythms.{kind}_{key}]` with `kind = "{kind}"`, its '
        f"own `schedule` and an `audience` that reaches the team{example} — then "
        f'`/drumbeat rhythm off {name} {key}`. See docs/rhythms.md, "Per team".'
    )
