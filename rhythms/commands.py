"""`/drumbeat` subcommands as services: help, rhythms, alerts, whoami, targets, sync-status,
and for admins `rhythm on|off NAME [TEAM]`, `rhythm time NAME "CRON"`
(`rhythms.switchboard_commands`) and `resync`; plus `/velocity`.

Each returns a `Reply` (text + blocks, ephemeral by default); nothing here calls Slack.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.lookup import Scope, catalog_for
from metrics.models import CrmUser, Person, SyncRun
from metrics.targets import resolve_target
from metrics.velocity import velocity_trend
from rhythms.alert_expiry import firing_now
from rhythms.alert_labels import rule_label, subject_names
from rhythms.blocks import context, fmt_number, header, section
from rhythms.command_args import command_words
from rhythms.config import OrgConfig
from rhythms.control_tower import LEVERS, lever_split
from rhythms.metric_answer import STALE_AFTER, Refused
from rhythms.metric_query import config_team_words, find_team
from rhythms.permissions import alert_concerns, can_view_org, can_view_team, is_admin
from rhythms.reply import Reply
from rhythms.reply import text_reply as _text
from rhythms.switchboard_commands import rhythm_admin, rhythms_reply

HELP = """*Drumbeat* — your team's operating rhythms in Slack.
• `/metric NAME [@person|team|org] [period] [vs last period] [chart]` — any number, e.g. \
`/metric meetings @dana last week`; `/metric list` for the catalog
• `/scoreboard [@person|team|org]` — today's scoreboard, on demand (leaders: their teams')
• `/maple` — write or edit this week's MAPLE update
• `/velocity [team]` — revenue velocity, its acceleration and which lever moved
• `/drumbeat rhythms | alerts | whoami | targets | sync-status`
• Admins: `/drumbeat rhythm on|off NAME [TEAM]`, \
`/drumbeat rhythm time NAME "30 17 * * mon-fri"`, `/drumbeat resync`"""


def drumbeat_command(
    session: Session,
    *,
    config: OrgConfig,
    viewer: Person | None,
    slack_user_id: str,
    text: str,
    now: dt.datetime,
) -> Reply:
    try:
        words = command_words(text)
    except ValueError:
        return _text("I couldn't read that (an unclosed quote?). " + HELP)
    sub = words[0].lower() if words else "help"
    if sub == "help":
        return _text(HELP)
    if sub == "whoami":
        return whoami(session, config=config, viewer=viewer, slack_user_id=slack_user_id)
    if viewer is None:
        return _text(
            "I don't know you yet: ask your RevOps admin to add you to drumbeat.toml "
            "(people[].email, or people[].slack_user_id)."
        )
    zone = person_timezone(viewer, config.org.timezone)
    if sub == "rhythms":
        return rhythms_reply(session, config=config, now=now, zone=zone)
    if sub == "alerts":
        return alerts_reply(session, config=config, viewer=viewer, now=now, zone=zone)
    if sub == "targets":
        return targets_reply(config=config, viewer=viewer)
    if sub in ("sync-status", "sync"):
        return sync_status(session, now=now)
    if sub in ("rhythm", "resync"):
        if not is_admin(viewer):
            return _text(
                "Only admins can change rhythms or start a sync (role `admin` in drumbeat.toml)."
            )
        if sub == "resync":
            return Reply(
                "Starting a CRM sync now; `/drumbeat sync-status` shows when it ends.",
                start_sync=True,
            )
        return rhythm_admin(
            session, config=config, viewer=viewer, args=words[1:], now=now, zone=zone
        )
    return _text(f"I don't know `{sub[:40]}`.\n\n{HELP}")


def whoami(
    session: Session, *, config: OrgConfig, viewer: Person | None, slack_user_id: str
) -> Reply:
    if viewer is None:
        return _text(
            f"Slack user `{slack_user_id}` is not mapped to anyone in Drumbeat. Ask your "
            "RevOps admin to add your email (or this Slack id) to drumbeat.toml."
        )
    owners = session.scalars(select(CrmUser).where(CrmUser.person_id == viewer.id)).all()
    crm = (
        ", ".join(f"{o.source}:{o.external_id} ({o.email or 'no email'})" for o in owners)
        or "no CRM owner mapped yet (check the email in the CRM, or people[].crm_owner_ids)"
    )
    team = config.team(viewer.team_key) if viewer.team_key else None
    lines = [
        f"*{viewer.name}* · {viewer.email} · role `{viewer.role}`",
        f"Team: {team.name if team else '—'} · time zone "
        f"{person_timezone(viewer, config.org.timezone)}",
        f"Slack: <@{slack_user_id}> · CRM: {crm}",
    ]
    return _text("\n".join(lines))


def alerts_reply(
    session: Session, *, config: OrgConfig, viewer: Person, now: dt.datetime, zone: str
) -> Reply:
    """The alerts firing now that concern `viewer` (as the App Home lists them: ended ones
    left out before the next heartbeat ends them), times in the viewer's zone."""
    rows = firing_now(session, config=config, now=now)
    mine = [r for r in rows if alert_concerns(r.subject, viewer, config)]
    if not mine:
        return _text("No alerts firing that concern you. 🎉")
    shown = mine[:30]
    names = subject_names(session, config, {r.subject for r in shown})
    local = ZoneInfo(zone)

    def since(at: dt.datetime | None) -> str:
        if at is None:
            return "now"
        aware = at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # stored in UTC
        return f"{aware.astimezone(local):%a %H:%M %Z}"

    lines = [
        f"• {rule_label(config, r.rule)} · {names.get(r.subject, r.subject)}"
        f" · since {since(r.fired_at)}" + (f" · acked by <@{r.acked_by}>" if r.acked_by else "")
        for r in shown
    ]
    more = len(mine) - len(shown)
    if more:
        lines.append(f"…and {more} more")
    return Reply("Alerts", [header("Alerts firing"), section("\n".join(lines))])


def targets_reply(*, config: OrgConfig, viewer: Person) -> Reply:
    lines = []
    for defn in catalog_for(config).metrics.values():
        found = {
            p: resolve_target(
                config, defn.name, p, email=viewer.email, role=viewer.role, team=viewer.team_key
            )
            for p in ("daily", "weekly", "monthly")
        }
        if all(v is None for v in found.values()):
            continue
        parts = [
            f"{p} {fmt_number(v, defn.unit, config.currency.reporting)}"
            for p, v in found.items()
            if v is not None
        ]
        lines.append(f"• *{defn.label}*: " + ", ".join(parts))
    explain = (
        "Targets come from drumbeat.toml: your own override beats your team's, which "
        "beats your role's. Pace spreads a day's target over working hours "
        f"({config.calendar.workday_start:%H:%M}–{config.calendar.workday_end:%H:%M})."
    )
    return Reply(
        "Your targets",
        [
            header("Your targets"),
            section("\n".join(lines) or "No targets set for you."),
            context(explain),
        ],
    )


def sync_status(session: Session, *, now: dt.datetime) -> Reply:
    last = session.execute(
        select(SyncRun.source, func.max(SyncRun.finished_at))
        .where(SyncRun.status == "ok")
        .group_by(SyncRun.source)
    ).all()
    failed = session.scalars(
        select(SyncRun)
        .where(SyncRun.status == "failed")
        .order_by(SyncRun.started_at.desc())
        .limit(1)
    ).first()
    if not last:
        return _text("No CRM sync has finished yet: run `drumbeat sync` (or `/drumbeat resync`).")
    lines = []
    for source, finished in last:
        if finished is None:
            continue
        age = now - finished
        flag = " ⚠️ stale" if age > STALE_AFTER else ""
        lines.append(
            f"• *{source}*: last synced {finished:%b %-d %H:%M} UTC "
            f"({age.total_seconds() / 3600:.1f} h ago){flag}"
        )
    if failed is not None:
        lines.append(
            f"Last failure: {failed.source} at {failed.started_at:%b %-d %H:%M} UTC — "
            f"{(failed.error or '')[:200]}"
        )
    return _text("\n".join(lines))


def velocity_reply(
    session: Session,
    *,
    config: OrgConfig,
    viewer: Person | None,
    team_word: str | None,
    today: dt.date,
) -> Reply:
    """`/velocity [team]`: last 30 days' velocity, acceleration, and which lever moved it.

    The team is named as `/metric` names it: key, name, channel or channel reference."""
    if viewer is None:
        raise Refused("I don't know you yet: ask your RevOps admin to add you to Drumbeat.")
    if team_word:
        key = find_team(team_word, config_team_words(config))
        team = config.team(key) if key is not None else None
        if team is None:
            return _text(f"No team `{team_word}`: try " + ", ".join(t.key for t in config.teams))
        decision = can_view_team(viewer, team.key, config)
        scope, name = Scope.team(team.key), team.name
    else:
        decision, scope, name = can_view_org(viewer, config), Scope.org(), config.org.name
    if not decision.allowed:
        raise Refused(decision.reason)
    trend = velocity_trend(
        session, config=config, scope=scope, end=today, periods=2, period_days=30
    )
    before, now_v = trend
    cur = config.currency.reporting
    if now_v.value is None:
        return _text(f"*{name}*: not enough closed deals in the last 30 days to compute velocity.")
    lines = [
        f"*{name}* revenue velocity: *{fmt_number(now_v.value, 'currency', cur)}/day* "
        f"(last 30 days)",
        f"{now_v.open_opportunities} open opps × {now_v.win_rate or 0:.0%} win rate × "
        f"{fmt_number(now_v.avg_deal_size or 0, 'currency', cur)} ÷ "
        f"{now_v.cycle_days or 0:.0f} days",
    ]
    if now_v.acceleration is not None:
        lines.append(f"Acceleration: {now_v.acceleration:+.0%} vs the 30 days before")
    split = lever_split(before, now_v)
    if split:
        lever = max(LEVERS, key=lambda k: abs(split[k]))
        lines.append(f"Biggest lever: *{lever}* ({split[lever]:+.2f} log-points)")
    return _text("\n".join(lines))
