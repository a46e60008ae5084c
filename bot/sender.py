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
(`bot.reconcile`) before posting again. Transient failures are retried until the delivery's
expiry (then it is ``expired``), and when most sends fail the same transient way a circuit
breaker (`bot.circuit`) stops all sending for a while. Permanent errors mark the delivery
dead and tell the admins (`bot.failures`, grouped per rhythm and error). Errors about the
bot's own token pause sending altogether (rows stay pending; `/healthz` says so). Stopping
(`run`'s event) stops claiming, lets sends in flight finish and gives claimed-but-unsent
rows back.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from bot.circuit import CircuitBreaker
from bot.db import describe_database_error, is_database_error
from bot.delivery_sends import DeliverySends, Result
from bot.failures import AUTH_ERRORS
from bot.outcomes import OutcomeWriter, Record
from bot.ratelimit import RateLimiter
from bot.reconcile import Finder, tagged_filename
from bot.slack_calls import SlackCaller
from metrics.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")
UNCONFIRMED = "unconfirmed"  # error prefix: the last try may have been posted; check first
MAX_DRAIN_BACKOFF = 60.0  # seconds between drains while they keep failing


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Delays are `base * 2**n` seconds (capped), with full jitter.

    Transient failures (5xx, timeouts, Slack unreachable, rate limits) are retried until the
    delivery's `expires_at` (rows without one: `retry_for` after they were written), never
    for a number of attempts; then the row is ``expired``. The breaker settings open the
    sender's circuit breaker (`bot.circuit`) when most sends fail the same transient way."""

    tries_per_claim: int = 4  # attempts within one claim before giving the row back
    base_delay: float = 0.5
    max_delay: float = 60.0
    stale_claim_after: dt.timedelta = dt.timedelta(minutes=10)
    settle_delay: float = 2.0  # after a lost answer, wait this long before looking it up
    retry_for: dt.timedelta = dt.timedelta(hours=12)  # rows written before expiries existed
    breaker_window: int = 10  # recent send outcomes the breaker looks at
    breaker_min_failures: int = 5  # ...of which at least this many
    breaker_share: float = 0.8  # ...and this share failed the same transient way
    breaker_base: float = 5.0  # seconds the first opening lasts (doubling while it fails)
    breaker_max: float = 300.0
    auth_recheck: float = 300.0  # seconds between tries while the token is refused

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1)))


def transient_class(result: Result) -> str | None:
    """The way a send failed for the circuit breaker; None when Slack answered (sent or a
    permanent refusal). Lost answers (5xx, timeouts, dropped connections) are one class."""
    if result.status == "ambiguous":
        return "slack_unavailable"
    if result.status != "retry":
        return None
    error = result.error or ""
    if error.startswith("connection_failed"):
        return "slack_unreachable"
    if error == "ratelimited":
        return "ratelimited"
    return f"transient:{error.split(':')[0][:40]}"


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
        self.breaker = CircuitBreaker(
            window=self.retry.breaker_window,
            min_failures=self.retry.breaker_min_failures,
            share=self.retry.breaker_share,
            base=self.retry.breaker_base,
            cap=self.retry.breaker_max,
        )
        self.db_error: str | None = None  # the drain fails on the database: why (one line)
        self.drain_failures = 0  # failed drains in a row
        self.auth_error: str | None = None  # Slack refuses the bot's token: sending paused
        self.auth_paused_until: dt.datetime | None = None
        self._stop: asyncio.Event | None = None
        self.sent = 0
        self.dead = 0
        self.expired = 0
        self.retried = 0  # outcomes recorded `failed` (to be retried)
        self.released = 0

    # -- the loop --------------------------------------------------------------------------
    def wake(self) -> None:
        """Ask a running sender to look for due rows now (call from the event loop)."""
        self._wake.set()

    def health(self) -> dict[str, Any]:
        """The sender's state for `/healthz`: ok, backing off (Slack failing; still
        healthy) or paused (Slack refuses the token: unhealthy)."""
        now = self.clock.now()
        if self.auth_error is not None:
            return {"ok": False, "sender": "paused", "reason": self.auth_error}
        if self.db_error is not None:
            return {"ok": False, "sender": "database_unavailable", "reason": self.db_error}
        if self.breaker.is_open(now):
            return {"ok": True, "sender": "backing_off", "reason": self.breaker.reason}
        return {"ok": True, "sender": "ok"}

    def may_send(self) -> bool:
        """Not stopping, not paused for a refused token, circuit breaker not open."""
        if self._stop is not None and self._stop.is_set():
            return False
        now = self.clock.now()
        if self.auth_paused_until is not None and now < self.auth_paused_until:
            return False
        return self.breaker.allows(now)

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile, then drain whatever is due until `stop` is set (reconciling again every
        half lease, for replicas that die while this one runs). A failure anywhere — the
        first reconcile included — is logged and retried after `poll_interval`, doubling up
        to `MAX_DRAIN_BACKOFF` while it keeps failing (`_drain_failed`)."""
        self._stop = stop
        last_reconcile: dt.datetime | None = None
        wait = self.poll_interval
        while not stop.is_set():
            try:
                now = self.clock.now()
                if (
                    last_reconcile is None
                    or now - last_reconcile >= self.retry.stale_claim_after / 2
                ):
                    await self.reconcile()  # at start, then claims of replicas that died since
                    last_reconcile = now
                before = self._counts()
                started = asyncio.get_running_loop().time()
                handled = await self.drain(stop)
                if handled:
                    self._log_batch(before, handled, asyncio.get_running_loop().time() - started)
                self._drain_recovered()
                wait = self.poll_interval
            except Exception as exc:  # the loop must survive a bad row or a DB outage
                wait = self._drain_failed(exc, wait)
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=wait, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()

    def _drain_failed(self, exc: Exception, wait: float) -> float:
        """Log a failed drain and return how long to wait: doubling from `poll_interval` to
        `MAX_DRAIN_BACKOFF` while it keeps failing. A database error (unreachable, schema
        missing or behind) is one ERROR line with the reason, then counted (DEBUG, with the
        traceback); anything else is logged with its traceback every time."""
        self.drain_failures += 1
        backoff = wait if self.drain_failures == 1 else min(MAX_DRAIN_BACKOFF, wait * 2)
        if not is_database_error(exc):
            log.exception("outbox drain failed; retrying in %.1fs", backoff)
            return backoff
        reason = describe_database_error(exc)
        if self.db_error is None:
            log.error(
                "outbox: the database fails (%s); retrying with backoff up to %.0fs, logging "
                "only when it recovers (DEBUG: every try)",
                reason,
                MAX_DRAIN_BACKOFF,
            )
        log.debug("outbox drain failed (try %d)", self.drain_failures, exc_info=exc)
        self.db_error = reason
        return backoff

    def _drain_recovered(self) -> None:
        if self.db_error is not None:
            log.info(
                "outbox: the database answers again after %d failed tries; draining",
                self.drain_failures,
            )
        self.db_error, self.drain_failures = None, 0

    def _counts(self) -> tuple[int, int, int, int, int]:
        return (self.sent, self.dead, self.expired, self.retried, self.released)

    def _log_batch(self, before: tuple[int, ...], handled: int, seconds: float) -> None:
        sent, dead, expired, retried, released = (
            a - b for a, b in zip(self._counts(), before, strict=True)
        )
        log.info(
            "outbox: %d claimed in %.1fs: %d sent, %d to retry, %d released, %d dead, %d expired",
            handled,
            seconds,
            sent,
            retried,
            released,
            dead,
            expired,
        )

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Send every delivery due now (including ones that fall due while draining); return
        once every outcome is recorded (or, through a database outage, given up to
        reconciliation). If a claim fails, what is already claimed is still sent and its
        outcomes keep being recorded in the background; then the claim's error is raised.

        When `stop` is set (or the sender pauses: circuit breaker open, token refused) it
        claims nothing more, lets the sends in flight finish and gives the claimed rows it
        has not started back (pending again), then returns."""
        if stop is not None:
            self._stop = stop
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
            if not self.may_send():
                exhausted = True  # claim nothing more; hand back what is not started
                while ready:
                    recorded.append(self.outcomes.submit(self._give_back(ready.popleft())))
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
                if not self.may_send():
                    return handled
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

    def _give_back(self, delivery: claims.Claimed, error: str | None = None) -> Record:
        """A claimed row this sender will not start now: pending again (when the breaker or
        the token pause ends, if that is why)."""
        self.released += 1
        now = self.clock.now()
        resume = [now]
        if self.breaker.open_until is not None:
            resume.append(self.breaker.open_until)
        if self.auth_paused_until is not None:
            resume.append(self.auth_paused_until)
        return Record(delivery, "released", now, retry_at=max(resume), error=error)

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

    def _expired(self, delivery: claims.Claimed) -> bool:
        return delivery.expires_at is not None and self.clock.now() >= delivery.expires_at

    async def _send_with_retries(self, delivery: claims.Claimed) -> Result:
        if (delivery.last_error or "").startswith(UNCONFIRMED):
            settled = await self._settle(delivery)  # a lost answer last time: look first
            if settled.status == "sent" or (
                settled.status != "released" and not self._expired(delivery)
            ):
                return settled
        if self._expired(delivery):  # too late: record it, never send it late
            return Result("expired", error=delivery.last_error or "not sent in time")
        result = Result("retry", error="not tried")
        for attempt in range(1, self.retry.tries_per_claim + 1):
            if attempt > 1:
                await self._pause(self.retry.delay(attempt, self._rng))
                if not self.may_send():  # stopping, or the breaker opened meanwhile
                    if result.status != "retry":
                        return result
                    return Result("released", error=result.error)
            result = await self.sends.send(delivery)
            self._observe(result)
            if result.status == "paused":
                return Result("released", error=result.error)
            if result.status == "ambiguous":
                await asyncio.sleep(self.retry.settle_delay)  # let a slow request land first
                result = await self._settle(delivery)
                if result.status == "released":  # looked, and it is not there: try again
                    result = Result("retry", error="answer lost; not posted")
            if result.status != "retry" or (result.error or "").startswith(UNCONFIRMED):
                return result  # an unconfirmed send is never blindly repeated
        return result

    async def _pause(self, seconds: float) -> None:
        """Sleep between tries; a stop ends it at once."""
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _observe(self, result: Result) -> None:
        """Feed one send's result to the breaker and the token pause."""
        now = self.clock.now()
        if result.status == "paused":
            self._pause_for_auth(result.error or "invalid_auth", now)
            return
        if result.status == "sent" and self.auth_error is not None:
            log.info("Slack accepts the bot token again: sending resumed")
            self.auth_error = self.auth_paused_until = None
        if self.breaker.record(now, transient_class(result)):
            log.warning(
                "most sends fail the same way (%s, last error %s): sending paused until %s "
                "(opening %d); deliveries are retried until they expire",
                self.breaker.reason,
                result.error,
                f"{self.breaker.open_until:%H:%M:%S} UTC",
                self.breaker.openings,
            )

    def _pause_for_auth(self, error: str, now: dt.datetime) -> None:
        self.auth_paused_until = now + dt.timedelta(seconds=self.retry.auth_recheck)
        if self.auth_error != error:  # once per distinct error, never the token itself
            log.error(
                "Slack refuses the bot token (%s): %s. Sending is paused and deliveries stay "
                "pending; retrying every %.0fs (or restart after fixing it).",
                error,
                AUTH_ERRORS.get(error, "check SLACK_BOT_TOKEN and the app's scopes"),
                self.retry.auth_recheck,
            )
        self.auth_error = error

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
            if failed.kind == "auth":
                self._pause_for_auth(failed.error or "invalid_auth", self.clock.now())
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
            return self._give_back(delivery, result.error)
        error = result.error or "failed"
        if result.status == "dead":
            self.dead += 1
            return Record(delivery, "dead", now, error=error)
        deadline = delivery.expires_at or delivery.created_at + self.retry.retry_for
        if result.status == "expired" or now >= deadline:
            self.expired += 1
            return Record(delivery, "expired", now, error=error)
        self.retried += 1
        delay = self.retry.delay(delivery.attempts + 1, self._rng) + self.retry.base_delay
        retry_at = now + dt.timedelta(seconds=delay)
        if self.breaker.open_until is not None:
            retry_at = max(retry_at, self.breaker.open_until)
        return Record(delivery, "failed", now, error=error, retry_at=retry_at)

    async def _db(self, func: Callable[..., T], **kwargs: Any) -> T:
        """Run a sync service function in a worker thread, in its own committed transaction."""

        def work() -> T:
            with self.session_factory() as session, session.begin():
                return func(session=session, **kwargs)

        return await asyncio.to_thread(work)


class _Unknown(Exception):
    """Slack could not be asked whether a delivery was posted."""
