"""The outbox sender: claim due deliveries, post them to Slack, record what Slack answered.

    sender = Sender(client=client, session_factory=factory, clock=clock)
    await sender.reconcile()         # at start: settle claims a dead process left behind
    await sender.drain()             # send everything due now (tests, CLI)
    await sender.run(stop_event)     # or keep draining until stopped (the bot)

Claim → send → record (see docs/delivery.md; the Slack calls of each kind are in
`bot.delivery_sends`). Claims take `claim_batch` rows at a time,
overlapping the sends; sends run as asyncio tasks, at most `max_in_flight` at once, paced by
`RateLimiter`; outcomes are written with group commit (`bot.outcomes.OutcomeWriter`). 429s
wait out ``Retry-After``; 5xx, timeouts and dropped connections back off with jitter, and —
because Slack may have posted before the answer was lost — look the delivery up
(`bot.reconcile`) before posting again. Permanent errors mark the delivery dead and tell the
admins once (`bot.failures`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery_claims as claims
from bot.delivery_sends import DeliverySends, Result
from bot.outcomes import OutcomeWriter, Record
from bot.ratelimit import RateLimiter
from bot.reconcile import Finder, tagged_filename
from bot.slack_calls import SlackCaller
from metrics.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")
UNCONFIRMED = "unconfirmed"  # error prefix: the last try may have been posted; check first


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Delays are `base * 2**n` seconds (capped), with full jitter."""

    tries_per_claim: int = 4  # attempts within one claim before giving the row back
    max_attempts: int = 8  # claims before a retryable error becomes dead
    base_delay: float = 0.5
    max_delay: float = 60.0
    stale_claim_after: dt.timedelta = dt.timedelta(minutes=10)
    settle_delay: float = 2.0  # after a lost answer, wait this long before looking it up

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1)))


class Sender:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        session_factory: sessionmaker[Session],
        clock: Clock,
        max_in_flight: int = 16,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        admin_channel: str | None = None,
        worker_id: str | None = None,
        poll_interval: float = 1.0,
        seed: int | None = None,
        claim_batch: int | None = None,
    ) -> None:
        self.client = client
        self.session_factory = session_factory
        self.clock = clock
        self.max_in_flight = max_in_flight
        self.caller = SlackCaller(limiter or RateLimiter())
        self.finder = Finder(client, self.caller)
        self.sends = DeliverySends(client, self.caller, self.finder)
        self.retry = retry or RetryPolicy()
        self.admin_channel = admin_channel
        self.worker = worker_id or f"sender-{uuid.uuid4().hex[:12]}"
        self.poll_interval = poll_interval
        # rows per claim: a few sends' worth ahead of the in-flight window, so claiming is
        # one statement per many rows while no claimed row waits long before its send
        self.claim_batch = max(1, claim_batch or max(64, 2 * max_in_flight))
        self._rng = random.Random(seed)
        self._wake = asyncio.Event()
        self.outcomes = OutcomeWriter(
            session_factory,
            worker=self.worker,
            admin_channel=admin_channel,
            give_up_after=self.retry.stale_claim_after.total_seconds() / 2,
            base_delay=self.retry.base_delay,
            max_delay=self.retry.max_delay,
        )
        self.sent = 0
        self.dead = 0

    # -- the loop --------------------------------------------------------------------------
    def wake(self) -> None:
        """Ask a running sender to look for due rows now (call from the event loop)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile, then drain whatever is due until `stop` is set (reconciling again every
        half lease, for replicas that die while this one runs)."""
        await self.reconcile()
        last_reconcile = self.clock.now()
        while not stop.is_set():
            try:
                if self.clock.now() - last_reconcile >= self.retry.stale_claim_after / 2:
                    last_reconcile = self.clock.now()
                    await self.reconcile()  # claims of replicas that died since
                await self.drain()
            except Exception:  # the loop must survive a bad row or a DB blip
                log.exception("outbox drain failed; retrying in %.1fs", self.poll_interval)
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()

    async def drain(self) -> int:
        """Send every delivery due now (including ones that fall due while draining); return
        once every outcome is recorded (or, through a database outage, given up to
        reconciliation). If a claim fails, what is already claimed is still sent and its
        outcomes keep being recorded in the background; then the claim's error is raised."""
        handled = 0
        in_flight: set[asyncio.Task[asyncio.Future[bool]]] = set()
        recorded: list[asyncio.Future[bool]] = []  # this drain's outcomes being written
        ready: deque[claims.Claimed] = deque()
        claiming: asyncio.Task[list[claims.Claimed]] | None = None
        exhausted = False  # the last claim found fewer rows than it asked for
        failure: BaseException | None = None
        wake = asyncio.Event()  # a send or a claim finished (O(1) per event, no asyncio.wait)

        def sent(task: asyncio.Task[asyncio.Future[bool]]) -> None:
            in_flight.discard(task)
            if not task.cancelled() and task.exception() is None:
                recorded.append(task.result())
            wake.set()

        while True:
            if claiming is None and not exhausted and len(ready) < self.max_in_flight:
                claiming = asyncio.create_task(self._claim())  # overlaps the sends in flight
                claiming.add_done_callback(lambda _task: wake.set())
            while ready and len(in_flight) < self.max_in_flight:
                task = asyncio.create_task(self._deliver(ready.popleft()))
                in_flight.add(task)
                task.add_done_callback(sent)
            if claiming is None and not in_flight:
                if failure is not None:
                    raise failure
                # Recorded outcomes can make more rows due (a thread reply waits for its
                # parent's `sent`): write them, then look once more.
                await self.outcomes.flush(recorded)
                recorded.clear()
                batch = await self._claim()
                if not batch:
                    return handled
                ready.extend(batch)
                handled += len(batch)
                exhausted = len(batch) < self.claim_batch
                continue
            wake.clear()  # callbacks run only while we wait, so nothing is missed
            await wake.wait()
            if len(recorded) > 4 * self.claim_batch:
                recorded = [f for f in recorded if not f.done()]
            if claiming is not None and claiming.done():
                claimed, claiming = claiming, None
                if claimed.exception() is not None:
                    failure, exhausted = claimed.exception(), True  # send what we hold, then raise
                    continue
                batch = claimed.result()
                ready.extend(batch)
                handled += len(batch)
                exhausted = len(batch) < self.claim_batch

    async def _claim(self) -> list[claims.Claimed]:
        batch = await self._db(
            claims.claim_due, worker=self.worker, now=self.clock.now(), limit=self.claim_batch
        )
        self.outcomes.poke()  # the database answers: outcomes waiting out a backoff go now
        return batch

    async def reconcile(self) -> int:
        """Settle claims older than the lease: sent if Slack has them, else pending again."""
        now = self.clock.now()
        stale = await self._db(
            claims.take_over_stale,
            worker=self.worker,
            now=now,
            older_than=now - self.retry.stale_claim_after,
            limit=10_000,
        )
        settled = []
        for delivery in stale:
            result = await self._settle(delivery)
            settled.append(self.outcomes.submit(self._outcome(delivery, result)))
        await self.outcomes.flush(settled)
        return len(stale)

    # -- one delivery ----------------------------------------------------------------------
    async def _deliver(self, delivery: claims.Claimed) -> asyncio.Future[bool]:
        try:
            result = await self._send_with_retries(delivery)
        except Exception as exc:  # a bug must not leave the row claimed forever
            log.exception("delivery %s crashed the sender", delivery.id)
            result = Result("retry", error=f"internal: {type(exc).__name__}: {exc}"[:500])
        # Group commit: the outcome joins the next batch; the slot is free for the next send.
        return self.outcomes.submit(self._outcome(delivery, result))

    async def _send_with_retries(self, delivery: claims.Claimed) -> Result:
        if (delivery.last_error or "").startswith(UNCONFIRMED):
            settled = await self._settle(delivery)  # a lost answer last time: look first
            if settled.status != "released":
                return settled
        result = Result("retry", error="not tried")
        for attempt in range(1, self.retry.tries_per_claim + 1):
            if attempt > 1:
                await asyncio.sleep(self.retry.delay(attempt, self._rng))
            result = await self.sends.send(delivery)
            if result.status == "ambiguous":
                await asyncio.sleep(self.retry.settle_delay)  # let a slow request land first
                result = await self._settle(delivery)
                if result.status == "released":  # looked, and it is not there: try again
                    result = Result("retry", error="answer lost; not posted")
            if result.status != "retry" or (result.error or "").startswith(UNCONFIRMED):
                return result  # an unconfirmed send is never blindly repeated
        return result

    async def _settle(self, delivery: claims.Claimed) -> Result:
        """Whether a send whose answer was lost happened: sent (found), released (absent,
        safe to send again), dead (cannot be known: ephemerals) or retry (Slack could not
        be asked; the error keeps the `unconfirmed` mark so the next try looks first)."""
        kind = delivery.kind
        if kind == "ephemeral":
            return Result("dead", error="outcome_unknown")
        if kind not in ("message", "upload"):
            return Result("released")  # update and view_publish are idempotent: send again
        try:
            found = await self._find(delivery)
        except _Unknown as exc:
            return Result("retry", error=f"{UNCONFIRMED}: {exc}")
        return found if found is not None else Result("released")

    async def _find(self, delivery: claims.Claimed) -> Result | None:
        filename = None
        if delivery.kind == "upload":
            filename = tagged_filename(str(delivery.payload["filename"]), delivery.id)
        message, failed = await self.finder.find(
            recipient=delivery.parent_channel or delivery.recipient,
            delivery_id=delivery.id,
            thread_ts=delivery.parent_ts,
            filename=filename,
        )
        if message is not None:
            return Result("sent", channel=message["channel"], ts=message["ts"])
        if failed is not None:  # could not look: do not assume it is absent
            raise _Unknown(failed.error or "lookup failed")
        return None

    # -- recording -------------------------------------------------------------------------
    def _outcome(self, delivery: claims.Claimed, result: Result) -> Record:
        """What to write for `result` (counted here, once per delivery outcome)."""
        now = self.clock.now()
        if result.status == "sent":
            self.sent += 1
            return Record(delivery, "sent", now, channel=result.channel, ts=result.ts)
        if result.status == "released":
            return Record(delivery, "released", now)
        error = result.error or "failed"
        if result.status == "dead" or delivery.attempts >= self.retry.max_attempts:
            self.dead += 1
            return Record(delivery, "dead", now, error=error)
        delay = self.retry.delay(delivery.attempts + 1, self._rng) + self.retry.base_delay
        return Record(
            delivery, "failed", now, error=error, retry_at=now + dt.timedelta(seconds=delay)
        )

    async def _db(self, func: Callable[..., T], **kwargs: Any) -> T:
        """Run a sync service function in a worker thread, in its own committed transaction."""

        def work() -> T:
            with self.session_factory() as session, session.begin():
                return func(session=session, **kwargs)

        return await asyncio.to_thread(work)


class _Unknown(Exception):
    """Slack could not be asked whether a delivery was posted."""
