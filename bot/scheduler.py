"""The scheduler: a heartbeat job every minute, and the CRM sync on its own cadence.

No job per rhythm or per person lives in memory: the database holds what ran (rhythm runs
keyed by period, alert slots, the outbox), so a restart, a catch-up after downtime and
several replicas beating at once are all correct by construction. Jobs have stable ids;
their work runs off the event loop (the callers use `asyncio.to_thread`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

HEARTBEAT_JOB_ID = "drumbeat.heartbeat"
SYNC_JOB_ID = "drumbeat.crm_sync"
DIRECTORY_JOB_ID = "drumbeat.slack_directory"


def create_scheduler(
    *,
    beat: Callable[[], Awaitable[Any]],
    sync: Callable[[], Awaitable[Any]] | None = None,
    sync_minutes: int = 0,
    directory: Callable[[], Awaitable[Any]] | None = None,
) -> AsyncIOScheduler:
    """An AsyncIOScheduler (start it inside the running loop) with the heartbeat at second 0
    of every minute and, when given, the CRM sync every `sync_minutes`."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        beat,
        CronTrigger(second=0, timezone="UTC"),
        id=HEARTBEAT_JOB_ID,
        name="heartbeat",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=55,
    )
    if sync is not None and sync_minutes > 0:
        scheduler.add_job(
            sync,
            IntervalTrigger(minutes=sync_minutes),
            id=SYNC_JOB_ID,
            name="CRM sync",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
    if directory is not None:  # people join Slack and change zones: refresh daily
        scheduler.add_job(
            directory,
            IntervalTrigger(hours=24),
            id=DIRECTORY_JOB_ID,
            name="Slack directory",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
    return scheduler
