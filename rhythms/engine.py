"""The rhythm engine: find what is due, claim it, compose it, write it to the outbox.

`RhythmEngine.tick()` is the scheduler's whole job, every minute (details: docs/rhythms.md):
1. **Plan**: for each enabled rhythm (switchboard overrides applied) and zone it serves, the
   unrecorded cron firings since that zone's last run become ``planned`` rows if late by at
   most `grace_minutes`, else ``skipped`` (as are non-working days when `working_days_only`).
   Catch-up sends once: of the due firings only the latest is planned; the earlier ones, and
   runs planned before it but never executed, are ``skipped`` as superseded.
2. **Execute** each claimable run (planned, or running with an expired lease): claim it, then
   in one transaction resolve the zone's audience minus people out of office, compose, mark
   it ``done`` and write its deliveries (`delivery_batch.enqueue_all`). A crash before that
   commit leaves nothing; the run is retaken after its lease and the outbox's unique key
   makes any overlap harmless.
3. A run that raises is ``failed`` with the error; `[slack].admin_channel` is told, as it is
   of every run missed because nothing ran within its grace window (once per run).
Deliveries expire at the run's scheduled time + the grace window (at least `min_send_window`
after the run executes), so downtime never sends a run's messages late (docs/delivery.md).
The database, not memory, holds what ran: restarts, catch-up and replicas need nothing else.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.clock import Clock
from rhythms import runs
from rhythms.config import OrgConfig, RhythmConfig
from rhythms.delivery_batch import enqueue_all
from rhythms.models import RhythmOverride, RhythmRun
from rhythms.outbox import enqueue
from rhythms.registry import (
    Outgoing,
    Registry,
    RhythmSpec,
    RunContext,
    default_registry,
)
from rhythms.schedule import (
    Firing,
    classify,
    delivery_key,
    firings,
    latest_only,
    parse_period_key,
)
from rhythms.switchboard import RhythmInEffect, effective, switched_off_teams

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]


class EngineError(Exception):
    """A request the engine cannot serve (unknown rhythm or person): a clear message."""


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    period_key: str
    status: str
    deliveries: int = 0
    error: str | None = None


@dataclass(frozen=True)
class TickReport:
    planned: int
    skipped: int
    outcomes: tuple[RunOutcome, ...]


class RhythmEngine:
    """Plans and executes rhythm runs; safe to run in several processes on one database."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        config: OrgConfig,
        clock: Clock,
        registry: Registry | None = None,
        replica: str | None = None,
        lease: dt.timedelta = dt.timedelta(minutes=10),
        lookback: dt.timedelta = dt.timedelta(days=7),
    ) -> None:
        self.session_factory = session_factory
        self.config = config
        self.clock = clock
        self.registry = registry or default_registry()
        self.replica = replica or f"replica-{uuid.uuid4().hex[:12]}"
        self.lease = lease
        self.lookback = lookback
        self.calendar = WorkCalendar(config.calendar)
        self.delivery_chunk = 1000  # deliveries per INSERT statement
        self.zone_ttl = dt.timedelta(minutes=10)
        # a run executed near the end of its grace window still gets this long to fan out
        self.min_send_window = dt.timedelta(minutes=30)
        self._zone_cache: dict[tuple[str, str, str | None], tuple[dt.datetime, frozenset[str]]] = {}

    # ------------------------------------------------------------------ the job
    def tick(self) -> TickReport:
        """Plan what is due now and execute every claimable run."""
        now = self.clock.now()
        planned, skipped = self.plan(now)
        outcomes: list[RunOutcome] = []
        with self.session_factory() as session:
            pending = [
                run.id
                for run in runs.claimable(
                    session, now=now, lease=self.lease, since=now - self.lookback
                )
            ]
        for run_id in pending:
            outcome = self.execute(run_id)
            if outcome is not None:
                outcomes.append(outcome)
        return TickReport(planned, skipped, tuple(outcomes))

    def plan(self, now: dt.datetime) -> tuple[int, int]:
        """Record due runs as planned and old misses as skipped; (planned, skipped) counts."""
        planned = skipped = 0
        with self.session_factory() as session:
            for name, rhythm in self.active_rhythms(session).items():
                spec = self.spec_for(name)
                if spec is None:
                    continue
                try:
                    with session.begin_nested():
                        records = self._firings_to_record(session, name, rhythm, spec, now)
                except Exception as exc:
                    log.exception("cannot plan rhythm %s", name)
                    self._tell_admin(
                        session,
                        rhythm=name,
                        key=f"{name}:plan-error:{now:%Y-%m-%dT%H}:UTC",  # at most hourly
                        text=f"Drumbeat cannot plan rhythm {name}: {type(exc).__name__}: {exc}",
                        now=now,
                        run_id=None,
                    )
                    continue
                for plan_status, firing, note in records:
                    row = runs.plan(
                        session,
                        rhythm=name,
                        period_key=firing.period_key,
                        scheduled_for=firing.at,
                        status=plan_status,
                        note=note,
                        now=now,
                    )
                    if row is not None and plan_status == runs.PLANNED:
                        # a run planned earlier but never executed (the process died) is
                        # stale now: only this, the latest, firing is sent
                        skipped += runs.supersede(
                            session,
                            rhythm=name,
                            zone=firing.zone,
                            before=firing.at,
                            now=now,
                            lease=self.lease,
                            note=_superseded_note(None, firing),
                        )
                    if row is not None:
                        planned += plan_status == runs.PLANNED
                        skipped += plan_status == runs.SKIPPED
                        if plan_status == runs.SKIPPED and (note or "").startswith("missed"):
                            self._tell_admin(
                                session,
                                rhythm=name,
                                key=firing.period_key,
                                text=f":double_vertical_bar: Drumbeat did not run {name} "
                                f"({firing.period_key}): {note}. It was not sent late.",
                                now=now,
                                run_id=None,
                                part="missed",
                            )
            session.commit()
        return planned, skipped

    def execute(self, run_id: int) -> RunOutcome | None:
        """Claim and run one rhythm run; None when another replica holds it."""
        now = self.clock.now()
        with self.session_factory() as session:
            if not runs.claim(
                session, run_id=run_id, replica=self.replica, now=now, lease=self.lease
            ):
                session.rollback()
                return None
            session.commit()
        with self.session_factory() as session:
            run = session.get(RhythmRun, run_id)
            assert run is not None
            key = run.period_key
            try:
                outcome = self._execute_claimed(session, run, now)
            except Exception as exc:
                session.rollback()
                log.exception("rhythm run %s failed", key)
                return self._fail(run_id, key, f"{type(exc).__name__}: {exc}")
            if outcome.status == "lost":
                session.rollback()
                return None
            session.commit()
            return outcome

    def preview(
        self,
        session: Session,
        *,
        rhythm_name: str,
        at: dt.datetime,
        person_email: str | None = None,
    ) -> list[Outgoing]:
        """What `rhythm_name` would send at `at`; writes nothing (see `rhythms.preview`)."""
        from rhythms.preview import preview

        return preview(self, session, rhythm_name=rhythm_name, at=at, person_email=person_email)

    # ------------------------------------------------------------------ helpers
    def active_rhythms(self, session: Session) -> dict[str, RhythmConfig]:
        """Enabled rhythms with switchboard overrides (enabled, schedule) applied."""
        overrides = {o.rhythm: o for o in session.scalars(select(RhythmOverride))}
        active: dict[str, RhythmConfig] = {}
        for name in self.config.rhythms:
            rhythm = effective(self.config, overrides.get(name), name)
            if rhythm.enabled:
                active[name] = rhythm
        return active

    def spec_for(self, name: str) -> RhythmSpec | None:
        return self.registry.get(self.config.rhythm_kind(name))

    def fixed_zone(self, rhythm: RhythmConfig) -> str:
        return self.config.org.timezone if rhythm.timezone == "recipient" else rhythm.timezone

    def _zones(self, session: Session, rhythm: RhythmConfig, spec: RhythmSpec) -> set[str]:
        """The zones the audience lives in, re-read every `zone_ttl` (an idle tick then
        costs a few queries, not a scan of the directory; a new zone is picked up within
        the TTL and its first firing caught up within the grace window)."""
        if rhythm.timezone != "recipient":
            return {rhythm.timezone}
        now = self.clock.now()
        named = rhythm.name if isinstance(rhythm, RhythmInEffect) else ""  # per-team switches
        cache_key = (named, rhythm.audience.model_dump_json(), rhythm.channel)
        cached = self._zone_cache.get(cache_key)
        if cached is not None and now - cached[0] < self.zone_ttl:
            return set(cached[1])
        zones = {r.timezone for r in spec.audience(session, self.config, rhythm)}
        if not zones and rhythm.channel:
            zones.add(self.config.org.timezone)
        self._zone_cache[cache_key] = (now, frozenset(zones))
        return zones

    def _firings_to_record(
        self, session: Session, name: str, rhythm: RhythmConfig, spec: RhythmSpec, now: dt.datetime
    ) -> list[tuple[str, Firing, str | None]]:
        grace = dt.timedelta(minutes=rhythm.grace_minutes)
        horizon = now - self.lookback - grace
        latest: dict[str, dt.datetime] = {}
        known: set[str] = set()
        for key, when in runs.recent_keys(session, rhythm=name, since=horizon):
            known.add(key)
            zone = parse_period_key(key)[2]
            if zone not in latest or when > latest[zone]:
                latest[zone] = when
        records: list[tuple[str, Firing, str | None]] = []
        for zone in sorted(self._zones(session, rhythm, spec)):
            start = latest.get(zone, now - grace - dt.timedelta(microseconds=1))
            start = max(start, horizon)
            found = firings(name, rhythm.schedule, zone, start, now)
            plan = classify(found, now=now, grace=grace, known=known)
            for firing in plan.missed:
                late = int((now - firing.at).total_seconds() // 60)
                records.append(
                    (
                        runs.SKIPPED,
                        firing,
                        f"missed: due {firing.local:%a %H:%M %Z}, {late} min ago, "
                        f"beyond the {rhythm.grace_minutes} min grace window",
                    )
                )
            sendable: list[Firing] = []
            for firing in plan.due:
                day = firing.local.date()
                if rhythm.working_days_only and not self.calendar.is_working_day(day):
                    reason = self.calendar.holiday_name(day) or "weekend"
                    records.append((runs.SKIPPED, firing, f"not a working day ({reason})"))
                else:
                    sendable.append(firing)
            # Catch-up sends once: the latest due firing; the earlier ones are superseded.
            newest, superseded = latest_only(sendable)
            for firing in superseded:
                assert newest is not None
                records.append((runs.SKIPPED, firing, _superseded_note(firing, newest)))
            if newest is not None:
                records.append((runs.PLANNED, newest, None))
        return records

    def context(
        self,
        session: Session,
        name: str,
        rhythm: RhythmConfig,
        key: str,
        zone: str,
        local: dt.datetime,
        now: dt.datetime,
    ) -> RunContext:
        return RunContext(
            session=session,
            config=self.config,
            rhythm_name=name,
            rhythm=rhythm,
            period_key=key,
            zone=zone,
            local=local,
            now=now,
            calendar=self.calendar,
            teams_off=switched_off_teams(session, rhythm),
        )

    def _execute_claimed(self, session: Session, run: RhythmRun, now: dt.datetime) -> RunOutcome:
        name, key, run_id = run.rhythm, run.period_key, run.id
        rhythm = self.active_rhythms(session).get(name)
        spec = self.spec_for(name) if name in self.config.rhythms else None
        grace = dt.timedelta(minutes=rhythm.grace_minutes) if rhythm else dt.timedelta(0)
        reason: str | None = None
        if rhythm is None or spec is None:
            reason = "rhythm switched off or removed since it was planned"
        elif now - run.scheduled_for > grace:
            reason = f"too late to send: due {run.scheduled_for:%Y-%m-%d %H:%M} UTC, grace over"
        if reason is not None or rhythm is None or spec is None:
            ok = runs.finish(
                session,
                run_id=run_id,
                replica=self.replica,
                now=now,
                status=runs.SKIPPED,
                error=reason,
            )
            return RunOutcome(run_id, key, runs.SKIPPED if ok else "lost", 0, reason)
        zone = parse_period_key(key)[2]
        local = run.scheduled_for.astimezone(ZoneInfo(zone))
        ctx = self.context(session, name, rhythm, key, zone, local, now)
        members = [
            r
            for r in spec.audience(session, self.config, rhythm)
            if (rhythm.timezone != "recipient" or r.timezone == zone)
        ]
        away = [r for r in members if r.out_of_office_on(ctx.local_day)]
        members = [r for r in members if not r.out_of_office_on(ctx.local_day)]
        outgoing = spec.compose(ctx, members)
        notes = list(ctx.notes)
        if away:
            notes.insert(0, f"out of office: {', '.join(r.email for r in away)}")
        error = "; ".join(notes) or None
        # Mark the run done, then write its deliveries: one transaction, so a crash leaves
        # neither (and on SQLite, pysqlite's lazy BEGIN happens at this first write).
        ok = runs.finish(
            session,
            run_id=run_id,
            replica=self.replica,
            now=now,
            status=runs.DONE,
            deliveries=len(outgoing),
            error=error,
        )
        if not ok:
            return RunOutcome(run_id, key, "lost", 0, None)
        enqueue_all(
            session,
            rhythm=name,
            period_key=delivery_key(key),
            items=outgoing,
            now=now,
            run_id=run_id,
            chunk=self.delivery_chunk,
            expires_at=max(run.scheduled_for + grace, now + self.min_send_window),
        )
        return RunOutcome(run_id, key, runs.DONE, len(outgoing), error)

    def _tell_admin(
        self,
        session: Session,
        *,
        rhythm: str,
        key: str,
        text: str,
        now: dt.datetime,
        run_id: int | None,
        part: str = "failure",
    ) -> None:
        """An outbox message to `[slack].admin_channel` (once per key), if one is set."""
        admin = self.config.slack.admin_channel
        if admin:
            enqueue(
                session,
                rhythm=rhythm,
                period_key=key,
                recipient=admin,
                part=part,
                payload={"text": text[:3000]},
                now=now,
                run_id=run_id,
            )

    def _fail(self, run_id: int, key: str, error: str) -> RunOutcome:
        now = self.clock.now()
        with self.session_factory() as session:
            ok = runs.finish(
                session,
                run_id=run_id,
                replica=self.replica,
                now=now,
                status=runs.FAILED,
                error=error,
            )
            if ok:
                self._tell_admin(
                    session,
                    rhythm=parse_period_key(key)[0],
                    key=key,
                    text=f":warning: Drumbeat could not run {key}: {error}",
                    now=now,
                    run_id=run_id,
                )
            session.commit()
        return RunOutcome(run_id, key, runs.FAILED if ok else "lost", 0, error)


def _superseded_note(firing: Firing | None, latest: Firing) -> str:
    """Why a missed firing was not sent: a later one, sent instead, caught it up."""
    due = f"due {firing.local:%a %H:%M %Z}, " if firing is not None else ""
    return (
        f"superseded: {due}missed and caught up by the later firing of "
        f"{latest.local:%a %d %b %H:%M %Z} ({latest.period_key}); catch-up sends only the latest"
    )
