"""The weekly MAPLE rhythm: the prompt, reminders, the digest and emergency escalation.

Everything reads the rhythm as it is in effect (`rhythms.maple.maple_rhythms`: the config
with the App Home switchboard's `enabled` and `schedule` on top): switched off, MAPLE sends
nothing at all; retimed, its weeks, reminders and deadline follow the new schedule.

- The prompt is an ordinary rhythm (`maple_prompt_spec`): at its cron time in each
  recipient's zone, a DM with an "Open MAPLE" button (nobody who already submitted, nobody
  out of office). It says when the update is due in the recipient's own zone.
- The deadline (`deadline_at`) is one instant per week: `options.deadline` after the week's
  prompt, both in the org zone. The digest posts then (or as soon as everyone answered).
- Follow-ups (`maple_followups`, run every scheduler tick) derive everything else from the
  prompt's week: `options.reminders` (e.g. ``["mon 09:00"]``: the first such time after the
  prompt, in the recipient's zone) go to people who have not submitted, one per slot, the
  latest due slot only after downtime — only while the week's deadline is ahead and its
  digest not out (a slot at or after the deadline is never sent), never to someone out of
  office that day. At the deadline — or as soon as everyone answered — the digest is posted
  once to `options.digest_to` (``"cro"`` and/or channels), claimed as a run so replicas
  post it once. People out of office on the deadline's day who did not answer are listed
  as out of office, not as missing, and left out of the participation figures.
- The digest records which version of each update it showed; every submitted version it
  did not show (first submitted after it, committed while it was being built, or edited
  after it) is posted as a reply in the digest's thread, to every audience of the digest:
  by the submission itself (`post_late_update`) and by each beat's sweep of the last week's
  digests (`rhythms.maple_late`, which explains why no interleaving loses one).
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

from metrics.calendar import WorkCalendar
from metrics.models import Person, Team
from rhythms import runs
from rhythms.blocks import actions, button, section
from rhythms.config import OrgConfig, RhythmConfig
from rhythms.maple import (
    Participation,
    get_reply,
    maple_rhythms,
    participation,
    participation_of,
    week_bounds,
    week_key,
    week_label,
)
from rhythms.maple_digest import DigestEntry, maple_digest
from rhythms.maple_emergency import reraise_emergencies
from rhythms.maple_late import (
    Version,
    digest_entry,
    digest_heads,
    digest_posted,
    post_unshown,
    recent_digest_weeks,
    record_shown,
    submitted_versions,
)
from rhythms.models import Delivery, Reply, RhythmRun
from rhythms.outbox import enqueue
from rhythms.registry import (
    Outgoing,
    Recipient,
    RhythmSpec,
    RunContext,
    configured_audience,
)
from rhythms.rhythm_options import parse_day_time
from rhythms.schedule import _wall_trigger, parse_period_key

OPEN_ACTION = "maple_open"
DEFAULT_DEADLINE = "mon 12:00"


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
        deadline = deadline_at(ctx.rhythm, week, ctx.config.org.timezone)
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
                        rhythm=ctx.rhythm_name,
                        week=week,
                        name=r.name,
                        due=due_text(deadline, r.timezone),
                    ),
                )
            )
        return out

    return RhythmSpec(
        kind="maple",
        compose=compose,
        description="Weekly MAPLE prompt: Metrics, Advanced, Planned, Learnings, Emergencies",
    )


def reminder_specs(rhythm: RhythmConfig) -> list[str]:
    """The reminders' 'DAY HH:MM' times, at most `max_reminders` of them."""
    specs = [str(s) for s in rhythm.options.get("reminders", [])]
    max_n = rhythm.options.get("max_reminders")
    return specs[: int(max_n)] if max_n is not None else specs


def next_at(start: dt.datetime, spec: str) -> dt.datetime:
    """The first local time matching 'DAY HH:MM' strictly after `start` (aware local)."""
    weekday, at = parse_day_time(spec)
    days = (weekday - start.weekday()) % 7
    candidate = dt.datetime.combine(start.date() + dt.timedelta(days=days), at, tzinfo=start.tzinfo)
    if candidate <= start:
        candidate += dt.timedelta(days=7)
    return candidate


def prompt_time(rhythm: RhythmConfig, week: str, zone: str) -> dt.datetime:
    """When the week's prompt fires for someone in `zone` (its first cron time that ISO
    week; in the rhythm's own zone when it has a fixed one)."""
    from rhythms.maple import week_bounds

    if rhythm.timezone != "recipient":
        zone = rhythm.timezone
    monday, _ = week_bounds(week)
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(seconds=1)
    fire = _wall_trigger(rhythm.schedule).get_next_fire_time(None, start)
    wall = (
        fire.replace(tzinfo=None) if fire is not None else dt.datetime.combine(monday, dt.time(9))
    )
    return wall.replace(tzinfo=ZoneInfo(zone))


def deadline_at(rhythm: RhythmConfig, week: str, org_zone: str) -> dt.datetime:
    """The week's deadline, when the digest posts: the first `options.deadline` ('DAY
    HH:MM', default Monday 12:00) after the week's prompt, both in the org zone. One
    instant for everybody, wherever they are."""
    spec = str(rhythm.options.get("deadline") or DEFAULT_DEADLINE)
    return next_at(prompt_time(rhythm, week, org_zone), spec)


def due_text(deadline: dt.datetime, zone: str) -> str:
    """The deadline as the recipient reads it: their own zone, e.g. 'Mon 09:00 PST'."""
    return deadline.astimezone(ZoneInfo(zone)).strftime("%a %H:%M %Z").strip()


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
    late: int = 0  # deliveries of updates a digest did not show, posted in its thread
    notes: list[str] = field(default_factory=list)


def maple_followups(
    session: Session, *, config: OrgConfig, now: dt.datetime, replica: str = "local"
) -> FollowupReport:
    """Reminders, the digest and emergency re-raises that are due. Caller commits."""
    report = FollowupReport()
    for name, rhythm in maple_rhythms(session, config).items():
        audience = configured_audience(session, config, rhythm)
        report.reminders += _reminders(session, config, name, rhythm, audience, now)
        report.digests += _digest_if_due(session, config, name, rhythm, audience, now, replica)
        report.late += _sweep_late(session, config, name, rhythm, audience, now)
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
    specs = reminder_specs(rhythm)
    if not specs:
        return 0
    by_id = {r.person_id: r for r in audience}
    weeks: dict[str, tuple[dt.datetime, bool]] = {}  # week → (deadline, digest posted)
    count = 0
    for r in audience:
        if not r.slack_user_id or r.out_of_office_on(now.astimezone(ZoneInfo(r.timezone)).date()):
            continue
        week = current_week(rhythm, r.timezone, now)
        if week not in weeks:
            weeks[week] = (
                deadline_at(rhythm, week, config.org.timezone),
                digest_posted(session, name, week),
            )
        deadline, posted = weeks[week]
        if posted or now >= deadline:  # the week is over: a reminder now only confuses
            continue
        reply = get_reply(session, rhythm=name, period_key=week, person_id=r.person_id)
        if reply is not None and reply.status == "submitted":
            continue
        prompt = prompt_time(rhythm, week, r.timezone)
        slots = [next_at(prompt, spec) for spec in specs]
        due = [i for i, at in enumerate(slots) if at <= now]  # and so before the deadline
        if not due:
            continue
        latest = due[-1]
        if _reminder_sent(session, name, week, r.slack_user_id, latest):
            continue
        payload = prompt_payload(
            rhythm=name, week=week, name=r.name, due=due_text(deadline, r.timezone)
        )
        payload["text"] = "⏰ Reminder: " + payload["text"]
        outstanding = _team_outstanding(session, name, week, r, by_id, now)
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
    """Was reminder `index` or a later one sent to `recipient` this week? (Compared as
    numbers: as text, "reminder:10" sorts before "reminder:2".)"""
    parts = session.scalars(
        select(Delivery.part).where(
            Delivery.rhythm == name,
            Delivery.period_key == f"remind:{week}",
            Delivery.recipient == recipient,
            Delivery.part.like("reminder:%"),
        )
    )
    return any(_reminder_index(part) >= index for part in parts)


def _reminder_index(part: str) -> int:
    number = part.removeprefix("reminder:")
    return int(number) if number.isdigit() else -1


def _team_outstanding(
    session: Session,
    name: str,
    week: str,
    manager: Recipient,
    audience: dict[int, Recipient],
    now: dt.datetime,
) -> list[str]:
    """The manager's reports in the audience who have not submitted (out of office: left out)."""
    if manager.role != "manager":
        return []
    reports = session.scalars(
        select(Person.id).where(Person.manager_id == manager.person_id, Person.active.is_(True))
    )
    out = []
    for pid in reports:
        report = audience.get(pid)
        if report is None or report.out_of_office_on(
            now.astimezone(ZoneInfo(report.timezone)).date()
        ):
            continue
        reply = get_reply(session, rhythm=name, period_key=week, person_id=pid)
        if reply is None or reply.status != "submitted":
            out.append(report.name)
    return out


def week_stats(
    session: Session,
    *,
    name: str,
    week: str,
    audience: list[Recipient],
    deadline: dt.datetime,
    versions: dict[int, Version] | None = None,
) -> tuple[Participation, list[Recipient]]:
    """Participation of the audience, and who is excused: out of office on the deadline's
    day (in their zone) and not submitted. The excused are not counted missing. From
    `versions` (the submitted updates by person, as the digest read them) when given."""
    ids = [r.person_id for r in audience]
    if versions is None:
        stats = participation(
            session,
            rhythm=name,
            period_key=week,
            person_ids=ids,
            deadline=deadline.astimezone(dt.UTC),
        )
    else:
        stats = participation_of(
            {pid: v.submitted_at for pid, v in versions.items()},
            person_ids=ids,
            deadline=deadline.astimezone(dt.UTC),
        )
    missing = set(stats.missing)
    away = [
        r
        for r in audience
        if r.person_id in missing
        and r.out_of_office_on(deadline.astimezone(ZoneInfo(r.timezone)).date())
    ]
    away_ids = {r.person_id for r in away}
    still_missing = tuple(pid for pid in stats.missing if pid not in away_ids)
    return Participation(stats.on_time, stats.late, still_missing), away


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
    deadline = deadline_at(rhythm, week, zone)
    if now < deadline:  # early only when everyone (not away) has answered
        stats, _ = week_stats(session, name=name, week=week, audience=audience, deadline=deadline)
        if stats.missing or not (stats.on_time or stats.late):
            return 0
    recorded = select(RhythmRun.id).where(
        RhythmRun.rhythm == f"{name}_digest", RhythmRun.period_key == week
    )
    if session.scalars(recorded.limit(1)).first() is not None:
        return 0  # posted, or skipped with its reason
    why_not = _digest_skip_reason(session, config, name, week, deadline, now)
    if why_not is not None:
        _skip_digest(session, config, name, week, deadline, now, why_not)
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
        rhythm=rhythm,
    )
    runs.finish(session, run_id=run.id, replica=replica, now=now, status=runs.DONE, deliveries=n)
    return n


def digest_cutoff(config: OrgConfig, deadline: dt.datetime) -> dt.datetime:
    """The latest a week's digest may post: the end of the first working day after the
    deadline's day (org zone and calendar). Monday 12:00 → Tuesday 24:00; Friday 17:00 →
    Monday 24:00. Later (a long outage) it is recorded skipped, not posted stale."""
    calendar = WorkCalendar(config.calendar)
    local = deadline.astimezone(ZoneInfo(config.org.timezone))
    day = local.date() + dt.timedelta(days=1)
    for _ in range(31):  # a month of holidays in a row is not a calendar
        if calendar.is_working_day(day):
            break
        day += dt.timedelta(days=1)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=local.tzinfo)
    return end.astimezone(dt.UTC)


def _digest_skip_reason(
    session: Session,
    config: OrgConfig,
    name: str,
    week: str,
    deadline: dt.datetime,
    now: dt.datetime,
) -> str | None:
    """Why the week's digest must not post, or None. A digest needs a week people were asked
    about — the prompt went out (a `done` prompt run that week) or someone submitted anyway —
    and may be late only until `digest_cutoff`."""
    if now >= digest_cutoff(config, deadline):
        return (
            f"too late: due {deadline.astimezone(ZoneInfo(config.org.timezone)):%a %d %b %H:%M %Z}"
            f", not posted after the end of the next working day"
        )
    if _prompt_went_out(session, name, week, deadline):
        return None
    submitted = session.scalars(
        select(Reply.id)
        .where(Reply.rhythm == name, Reply.period_key == week, Reply.status == "submitted")
        .limit(1)
    ).first()
    if submitted is not None:
        return None
    return "the week's prompt never went out (bot not running then) and nobody submitted"


def _prompt_went_out(session: Session, name: str, week: str, deadline: dt.datetime) -> bool:
    """True when a prompt run of `name` for `week` is done (any zone)."""
    monday, _sunday = week_bounds(week)
    since = dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=1)
    keys = session.scalars(
        select(RhythmRun.period_key).where(
            RhythmRun.rhythm == name,
            RhythmRun.status == runs.DONE,
            RhythmRun.scheduled_for >= since,
            RhythmRun.scheduled_for <= deadline,
        )
    )
    for key in keys:
        stamp = parse_period_key(key)[1]
        if week_key(dt.date.fromisoformat(stamp[:10])) == week:
            return True
    return False


def _skip_digest(
    session: Session,
    config: OrgConfig,
    name: str,
    week: str,
    deadline: dt.datetime,
    now: dt.datetime,
    reason: str,
) -> None:
    """Record the week's digest as skipped with `reason` (once) and tell the admin channel."""
    row = runs.plan(
        session,
        rhythm=f"{name}_digest",
        period_key=week,
        scheduled_for=deadline.astimezone(dt.UTC),
        status=runs.SKIPPED,
        note=reason,
        now=now,
    )
    admin = config.slack.admin_channel
    if row is not None and admin:
        enqueue(
            session,
            rhythm=f"{name}_digest",
            period_key=f"digest:{week}",
            recipient=admin,
            part="skipped",
            now=now,
            payload={
                "text": f":double_vertical_bar: Drumbeat did not post the {name} digest for "
                f"{week_label(week)}: {reason}."
            },
        )


def post_digest(
    session: Session,
    *,
    config: OrgConfig,
    name: str,
    week: str,
    audience: list[Recipient],
    deadline: dt.datetime,
    now: dt.datetime,
    rhythm: RhythmConfig | None = None,
) -> int:
    """Write the digest for `week` to every configured audience; returns deliveries written.

    The updates are read once (`maple_late.submitted_versions`) and the version of each one
    shown is recorded with the deliveries, in the caller's transaction; a digest already
    written (a rerun) records nothing more, since its posts keep what they first showed."""
    rhythm = rhythm or config.rhythms[name]
    ids = [r.person_id for r in audience]
    written_before = bool(digest_heads(session, name, week))
    versions = submitted_versions(session, rhythm=name, week=week)
    stats, away = week_stats(
        session, name=name, week=week, audience=audience, deadline=deadline, versions=versions
    )
    away_ids = {r.person_id for r in away}
    teams = {t.key: t.name for t in session.scalars(select(Team))}
    entries: list[DigestEntry] = []
    shown: list[Version] = []
    missing: list[tuple[str, str]] = []
    out_of_office: list[tuple[str, str]] = []
    for r in audience:
        team = teams.get(r.team_key or "", "No team")
        version = versions.get(r.person_id)
        if version is None:
            (out_of_office if r.person_id in away_ids else missing).append((r.name, team))
            continue
        late = r.person_id in stats.late
        entries.append(
            digest_entry(session, config, name, week, r, version.answers, team, late, now)
        )
        shown.append(version)
    trend = [_share(session, name, w, ids) for w in _previous_weeks(week, 4)]
    messages = maple_digest(
        week_label=week_label(week),
        entries=entries,
        missing=missing,
        stats=stats,
        trend=[t for t in trend if t is not None],
        away=out_of_office,
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
    if count and not written_before:
        record_shown(session, shown, shown_in="digest", now=now)
    return count


def post_late_update(
    session: Session, *, config: OrgConfig, reply: Reply, person: Person, now: dt.datetime
) -> int:
    """After the week's digest went out, post the version of `reply` just submitted (first
    submitted or edited) as a reply in the digest's thread, to every audience the digest
    reached, unless the digest or its thread already shows it. Returns deliveries written;
    0 when the digest is not out yet (the digest, or the next beat's sweep, will carry it)."""
    rhythm = maple_rhythms(session, config, enabled_only=False).get(reply.rhythm)
    if rhythm is None:
        return 0
    return post_unshown(
        session,
        config=config,
        name=reply.rhythm,
        week=reply.period_key,
        deadline=deadline_at(rhythm, reply.period_key, config.org.timezone),
        now=now,
        person_ids=[person.id],
    )


def _sweep_late(
    session: Session,
    config: OrgConfig,
    name: str,
    rhythm: RhythmConfig,
    audience: list[Recipient],
    now: dt.datetime,
) -> int:
    """Post, in their thread, the audience's updates that the digests of the last
    `SWEEP_WINDOW` did not show (committed while a digest was being built: nobody else saw
    them). Deliveries written."""
    ids = [r.person_id for r in audience]
    count = 0
    for week in recent_digest_weeks(session, name, now):
        deadline = deadline_at(rhythm, week, config.org.timezone)
        count += post_unshown(
            session, config=config, name=name, week=week, deadline=deadline, now=now, person_ids=ids
        )
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
