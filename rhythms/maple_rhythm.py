"""The weekly MAPLE rhythm: the prompt, reminders, the digest and emergency escalation.

- The prompt is an ordinary rhythm (`maple_prompt_spec`): at its cron time in each
  recipient's zone, a DM with an "Open MAPLE" button (nobody who already submitted).
- Follow-ups (`maple_followups`, run every scheduler tick) derive everything else from the
  prompt's week: `options.reminders` (e.g. ``["mon 09:00"]``: the first such time after the
  prompt, in the recipient's zone) go to people who have not submitted, one per slot, the
  latest due slot only after downtime; at `options.deadline` (org zone) — or as soon as
  everyone answered — the digest is posted once to `options.digest_to` (``"cro"`` and/or
  channels), claimed as a run so replicas post it once.
- Emergencies escalate on submit (`rhythms.maple_emergency`): a DM to every exec and the
  author's manager with an Acknowledge button; unacknowledged after
  `options.emergency_reraise_minutes` (default 60) they are raised once more (part of the
  follow-ups).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person, Team
from rhythms import runs
from rhythms.blocks import actions, button, section
from rhythms.config import OrgConfig, RhythmConfig
from rhythms.maple import (
    get_reply,
    last_planned,
    maple_rhythms,
    participation,
    week_key,
    week_label,
)
from rhythms.maple_digest import DigestEntry, maple_digest
from rhythms.maple_emergency import reraise_emergencies
from rhythms.maple_metrics import metrics_line
from rhythms.models import Delivery, Reply
from rhythms.outbox import enqueue
from rhythms.registry import Outgoing, Recipient, RhythmSpec, RunContext, configured_audience
from rhythms.rhythm_options import parse_day_time
from rhythms.schedule import _wall_trigger

OPEN_ACTION = "maple_open"


def prompt_payload(*, rhythm: str, week: str, name: str, due: str | None) -> dict[str, Any]:
    first = name.split()[0] if name else "there"
    due_text = f" It's due {due}." if due else ""
    text = f"Hi {first}, time for your weekly MAPLE update ({week_label(week)}).{due_text}"
    blocks = [
        section(
            f"📝 *Weekly MAPLE · {week_label(week)}*\nHi {first} — time for your weekly "
            f"update.{due_text}\n_Metrics are pre-filled from the CRM; last week's plan "
            "comes back as a checklist._"
        ),
        actions(
            button("Open MAPLE", OPEN_ACTION, f"{rhythm}|{week}", style="primary"),
            block_id="maple_prompt",
        ),
    ]
    return {"text": text, "blocks": blocks}


def maple_prompt_spec() -> RhythmSpec:
    def compose(ctx: RunContext, recipients: Sequence[Recipient]) -> list[Outgoing]:
        week = week_key(ctx.local_day)
        deadline = _deadline_text(ctx.rhythm, ctx.local)
        out = []
        for r in recipients:
            if not r.slack_user_id:
                ctx.notes.append(f"no Slack user id: {r.email}")
                continue
            reply = get_reply(
                ctx.session, rhythm=ctx.rhythm_name, period_key=week, person_id=r.person_id
            )
            if reply is not None and reply.status == "submitted":
                continue
            out.append(
                Outgoing(
                    recipient=r.slack_user_id,
                    payload=prompt_payload(
                        rhythm=ctx.rhythm_name, week=week, name=r.name, due=deadline
                    ),
                )
            )
        return out

    return RhythmSpec(
        kind="maple",
        compose=compose,
        description="Weekly MAPLE prompt: Metrics, Advanced, Planned, Learnings, Emergencies",
    )


def _after(start: dt.datetime, spec: str) -> dt.datetime:
    """The first local time matching 'DAY HH:MM' strictly after `start` (aware local)."""
    weekday, at = parse_day_time(spec)
    days = (weekday - start.weekday()) % 7
    candidate = dt.datetime.combine(start.date() + dt.timedelta(days=days), at, tzinfo=start.tzinfo)
    if candidate <= start:
        candidate += dt.timedelta(days=7)
    return candidate


def prompt_time(rhythm: RhythmConfig, week: str, zone: str) -> dt.datetime:
    """When the week's prompt fires in `zone` (its first cron time that ISO week)."""
    from rhythms.maple import week_bounds

    monday, _ = week_bounds(week)
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(seconds=1)
    fire = _wall_trigger(rhythm.schedule).get_next_fire_time(None, start)
    wall = (
        fire.replace(tzinfo=None) if fire is not None else dt.datetime.combine(monday, dt.time(9))
    )
    return wall.replace(tzinfo=ZoneInfo(zone))


def _deadline_text(rhythm: RhythmConfig, local_prompt: dt.datetime) -> str | None:
    spec = rhythm.options.get("deadline")
    if not spec:
        return None
    return _after(local_prompt, str(spec)).strftime("%a %H:%M")


def current_week(rhythm: RhythmConfig, zone: str, now: dt.datetime) -> str:
    """The week whose prompt most recently fired in `zone`."""
    local = now.astimezone(ZoneInfo(zone))
    week = week_key(local.date())
    if prompt_time(rhythm, week, zone) > local:
        week = week_key(local.date() - dt.timedelta(days=7))
    return week


@dataclass
class FollowupReport:
    reminders: int = 0
    digests: int = 0
    reraised: int = 0
    notes: list[str] = field(default_factory=list)


def maple_followups(
    session: Session, *, config: OrgConfig, now: dt.datetime, replica: str = "local"
) -> FollowupReport:
    """Reminders, the digest and emergency re-raises that are due. Caller commits."""
    report = FollowupReport()
    for name, rhythm in maple_rhythms(config).items():
        audience = configured_audience(session, config, rhythm)
        report.reminders += _reminders(session, config, name, rhythm, audience, now)
        report.digests += _digest_if_due(session, config, name, rhythm, audience, now, replica)
    report.reraised += reraise_emergencies(session, config, now)
    return report


def _reminders(
    session: Session,
    config: OrgConfig,
    name: str,
    rhythm: RhythmConfig,
    audience: list[Recipient],
    now: dt.datetime,
) -> int:
    specs = [str(s) for s in rhythm.options.get("reminders", [])]
    max_n = int(rhythm.options.get("max_reminders", len(specs)))
    count = 0
    for r in audience:
        if not r.slack_user_id:
            continue
        week = current_week(rhythm, r.timezone, now)
        reply = get_reply(session, rhythm=name, period_key=week, person_id=r.person_id)
        if reply is not None and reply.status == "submitted":
            continue
        prompt = prompt_time(rhythm, week, r.timezone)
        due = [i for i, spec in enumerate(specs[:max_n]) if _after(prompt, spec) <= now]
        if not due:
            continue
        latest = due[-1]
        if _reminder_sent(session, name, week, r.slack_user_id, latest):
            continue
        payload = prompt_payload(
            rhythm=name, week=week, name=r.name, due=_deadline_text(rhythm, prompt)
        )
        payload["text"] = "⏰ Reminder: " + payload["text"]
        outstanding = _team_outstanding(session, config, name, week, r)
        if outstanding:
            payload["blocks"].insert(
                1, section("*Not in yet on your team:* " + ", ".join(outstanding))
            )
        enqueue(
            session,
            rhythm=name,
            period_key=f"remind:{week}",
            recipient=r.slack_user_id,
            part=f"reminder:{latest}",
            payload=payload,
            now=now,
        )
        if reply is not None:
            reply.reminders_sent = latest + 1
        count += 1
    return count


def _reminder_sent(session: Session, name: str, week: str, recipient: str, index: int) -> bool:
    return (
        session.scalars(
            select(Delivery.id).where(
                Delivery.rhythm == name,
                Delivery.period_key == f"remind:{week}",
                Delivery.recipient == recipient,
                Delivery.part >= f"reminder:{index}",
            )
        ).first()
        is not None
    )


def _team_outstanding(
    session: Session, config: OrgConfig, name: str, week: str, manager: Recipient
) -> list[str]:
    if manager.role != "manager":
        return []
    reports = list(
        session.scalars(
            select(Person).where(Person.manager_id == manager.person_id, Person.active.is_(True))
        )
    )
    rhythm = config.rhythms[name]
    in_audience = {r.person_id for r in configured_audience(session, config, rhythm)}
    out = []
    for p in reports:
        if p.id not in in_audience:
            continue
        reply = get_reply(session, rhythm=name, period_key=week, person_id=p.id)
        if reply is None or reply.status != "submitted":
            out.append(p.name)
    return out


def _digest_if_due(
    session: Session,
    config: OrgConfig,
    name: str,
    rhythm: RhythmConfig,
    audience: list[Recipient],
    now: dt.datetime,
    replica: str,
) -> int:
    if not audience:
        return 0
    zone = config.org.timezone
    week = current_week(rhythm, zone, now)
    prompt = prompt_time(rhythm, week, zone)
    deadline = _after(prompt, str(rhythm.options.get("deadline", "mon 12:00")))
    ids = [r.person_id for r in audience]
    stats = participation(
        session, rhythm=name, period_key=week, person_ids=ids, deadline=deadline.astimezone(dt.UTC)
    )
    if now < deadline and stats.missing:
        return 0
    run = runs.plan(session, rhythm=f"{name}_digest", period_key=week, scheduled_for=now)
    if run is None or not runs.claim(
        session, run_id=run.id, replica=replica, now=now, lease=dt.timedelta(minutes=10)
    ):
        return 0
    n = post_digest(
        session,
        config=config,
        name=name,
        week=week,
        audience=audience,
        deadline=deadline.astimezone(dt.UTC),
        now=now,
    )
    runs.finish(session, run_id=run.id, replica=replica, now=now, status=runs.DONE, deliveries=n)
    return n


def post_digest(
    session: Session,
    *,
    config: OrgConfig,
    name: str,
    week: str,
    audience: list[Recipient],
    deadline: dt.datetime,
    now: dt.datetime,
) -> int:
    """Write the digest for `week` to every configured audience; returns deliveries written."""
    rhythm = config.rhythms[name]
    ids = [r.person_id for r in audience]
    stats = participation(session, rhythm=name, period_key=week, person_ids=ids, deadline=deadline)
    replies = {
        r.person_id: r
        for r in session.scalars(
            select(Reply).where(
                Reply.rhythm == name, Reply.period_key == week, Reply.status == "submitted"
            )
        )
    }
    teams = {t.key: t.name for t in session.scalars(select(Team))}
    entries, missing = [], []
    for r in audience:
        team = teams.get(r.team_key or "", "No team")
        reply = replies.get(r.person_id)
        if reply is None:
            missing.append((r.name, team))
            continue
        person = session.get(Person, r.person_id)
        assert person is not None
        planned = last_planned(session, rhythm=name, period_key=week, person_id=r.person_id)
        done = {str(i) for i in reply.answers.get("advanced_done", [])}
        entries.append(
            DigestEntry(
                person_name=r.name,
                slack_user_id=r.slack_user_id,
                team_name=team,
                metrics_line=metrics_line(
                    session, config=config, person=person, week=week, now=now
                ),
                answers=reply.answers,
                late=r.person_id in stats.late,
                done_items=tuple(p for i, p in enumerate(planned) if str(i) in done),
                open_items=tuple(p for i, p in enumerate(planned) if str(i) not in done),
            )
        )
    trend = [_share(session, name, w, ids) for w in _previous_weeks(week, 4)]
    messages = maple_digest(
        week_label=week_label(week),
        entries=entries,
        missing=missing,
        stats=stats,
        trend=[t for t in trend if t is not None],
    )
    count = 0
    for target in _digest_targets(session, config, rhythm):
        for i, message in enumerate(messages):
            main = enqueue(
                session,
                rhythm=name,
                period_key=f"digest:{week}",
                recipient=target,
                part=f"part:{i}",
                now=now,
                payload={"text": message.text, "blocks": message.blocks},
            )
            count += 1
            for j, thread in enumerate(message.threads):
                session.flush()
                enqueue(
                    session,
                    rhythm=name,
                    period_key=f"digest:{week}",
                    recipient=target,
                    part=f"part:{i}:t{j}",
                    thread_of_id=main.id,
                    now=now,
                    payload=thread,
                )
                count += 1
    return count


def _previous_weeks(week: str, n: int) -> list[str]:
    from rhythms.maple import previous_week_key

    out, current = [], week
    for _ in range(n):
        current = previous_week_key(current)
        out.append(current)
    return list(reversed(out))


def _share(session: Session, name: str, week: str, ids: list[int]) -> float | None:
    """Share of the audience that submitted in `week`; None if no prompt went out that week."""
    from rhythms.maple import week_bounds

    monday, sunday = week_bounds(week)
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=1)
    end = dt.datetime.combine(sunday, dt.time(0), tzinfo=dt.UTC) + dt.timedelta(days=2)
    prompted = session.scalars(
        select(Delivery.id).where(
            Delivery.rhythm == name,
            Delivery.period_key.like(f"{name}:%"),
            Delivery.created_at >= start,
            Delivery.created_at < end,
        )
    ).first()
    if prompted is None or not ids:
        return None
    submitted = set(
        session.scalars(
            select(Reply.person_id).where(
                Reply.rhythm == name,
                Reply.period_key == week,
                Reply.status == "submitted",
                Reply.person_id.in_(ids),
            )
        )
    )
    return len(submitted) / len(ids)


def _digest_targets(session: Session, config: OrgConfig, rhythm: RhythmConfig) -> list[str]:
    targets: list[str] = []
    for item in rhythm.options.get("digest_to", ["cro"]):
        item = str(item)
        if item == "cro":
            targets += [
                p.slack_user_id
                for p in session.scalars(
                    select(Person).where(Person.role == "exec", Person.active.is_(True))
                )
                if p.slack_user_id
            ]
        elif item.startswith("#") or item.startswith("C"):
            targets.append(item)
    if rhythm.channel and rhythm.channel not in targets:
        targets.append(rhythm.channel)
    return list(dict.fromkeys(targets))
