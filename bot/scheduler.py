"""The scheduler: one APScheduler job, "tick", every minute, asking the engine what is due.

No job per rhythm or per person lives in memory: the database holds what ran (rhythm runs
keyed by period), so a restart, a catch-up after downtime and several replicas ticking at
once are all correct by construction. The tick runs the synchronous engine in a worker
thread (`asyncio.to_thread`), so the event loop never blocks on a query.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from rhythms.engine import RhythmEngine, TickReport

log = logging.getLogger(__name__)

TICK_JOB_ID = "drumbeat.rhythms.tick"


async def tick(engine: RhythmEngine) -> TickReport | None:
    """One engine tick off the event loop; a failure is logged and the next tick retries.

    Runs that fail are recorded as failed rows and reported to the admin channel by the
    engine itself; what can land here is the database being unreachable.
    """
    try:
        report = await asyncio.to_thread(engine.tick)
    except Exception:
        log.exception("rhythm tick failed; retrying on the next tick")
        return None
    if report.planned or report.skipped or report.outcomes:
        log.info(
            "tick: %d planned, %d skipped, %d executed",
            report.planned,
            report.skipped,
            len(report.outcomes),
        )
    return report


def create_scheduler(engine: RhythmEngine) -> AsyncIOScheduler:
    """An AsyncIOScheduler with the tick job (stable id; start it inside the running loop)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        CronTrigger(second=0, timezone="UTC"),
        args=[engine],
        id=TICK_JOB_ID,
        name="rhythm engine tick",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=55,
    )
    return scheduler
