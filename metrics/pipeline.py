"""The data pipeline after a CRM pull: directory → sync → owner mapping → rollups.

`sync_and_roll_up` is what `drumbeat sync`, the bot's scheduled sync and the demo all run.
Rollups are refreshed incrementally from the sync's dirty marks, except when the people ↔
CRM-owner mapping changed (a new person, a fixed email) or a full sync was asked for: then
the mapped owners' history must move, and rollups are rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import Clock
from metrics.config import MetricsConfig
from metrics.crm.engine import Progress, SyncReport, sync_source
from metrics.crm.records import Connector
from metrics.directory import apply_directory, map_crm_owners
from metrics.models import CrmUser
from metrics.rollups import RefreshResult, rebuild_rollups, refresh_rollups


@dataclass(frozen=True)
class PipelineResult:
    sync: SyncReport
    rollups: RefreshResult
    rebuilt: bool
    unmatched_active: int


def sync_and_roll_up(
    connector: Connector,
    *,
    session_factory: sessionmaker[Session],
    config: MetricsConfig,
    clock: Clock,
    full: bool = False,
    progress: Progress | None = None,
) -> PipelineResult:
    today = clock.now().astimezone(ZoneInfo(config.org.timezone)).date()
    with session_factory() as session, session.begin():
        apply_directory(session, config, today=today)
    report = sync_source(
        connector,
        session_factory=session_factory,
        clock=clock,
        full=full,
        progress=progress,
        currencies=config.currency,
    )
    with session_factory() as session, session.begin():
        before = _mapping(session, connector.source)
        unmatched = map_crm_owners(session, config, connector.source)
        changed = before != _mapping(session, connector.source)
    rebuild = full or changed
    with session_factory() as session, session.begin():
        result = (
            rebuild_rollups(session, config=config)
            if rebuild
            else refresh_rollups(session, config=config)
        )
    return PipelineResult(report, result, rebuild, sum(1 for u in unmatched if u.active))


def _mapping(session: Session, source: str) -> dict[int, int | None]:
    rows = session.execute(select(CrmUser.id, CrmUser.person_id).where(CrmUser.source == source))
    return {user_id: person_id for user_id, person_id in rows}
