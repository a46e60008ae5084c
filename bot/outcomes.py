"""Delivery outcomes written with group commit: many results, one transaction, one thread hop.

    writer = OutcomeWriter(session_factory, worker="sender-1", ...)
    done = writer.submit(outcome)    # from any send task; a future: True once written
    await writer.flush([done])       # (or everything submitted so far) written or given up

Sends that finish while a batch is being written wait and go together into the next one, so
under load a batch holds whatever finished meanwhile (one ``executemany`` for the ``sent``
rows, the rare failures row by row in the same transaction); a small batch first lingers
3 ms for company (measured: about half the transactions, ~10 % more messages/s). The
sender never waits for its own outcome before taking the next delivery.

**Failure path** (docs/delivery.md, "What if the database fails"). A batch is one
transaction, so a failed write commits none of it:
- the database is unreachable (``OperationalError``/``InterfaceError``, a dropped
  connection): the whole batch is retried, joined by whatever arrived meanwhile, after
  `base_delay` doubling up to `max_delay`;
- anything else (one bad row): the batch is written again item by item, each in its own
  transaction (still one thread hop), so one bad row cannot hold back the others; the items
  that fail are retried like an outage.
Every write is conditional on the claim (``status = 'claimed' AND claimed_by = worker``), so
writing an item again after a commit whose answer was lost changes nothing, and a dead
delivery's admin notice is an outbox row with a unique key. An item not written within
`give_up_after` seconds (half the claim lease) is dropped with an error log: its row stays
``claimed`` and reconciliation settles it from Slack after the lease — a message that was
posted is found and recorded ``sent``, never posted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery_claims as claims
from bot.failures import notice_error, notify_admins

log = logging.getLogger(__name__)
MAX_BATCH = 500
LINGER = 0.003  # seconds a small batch waits for company (about halves the transactions)
LINGER_BELOW = 32  # ...when fewer outcomes than this are queued


@dataclass(frozen=True)
class Record:
    """What to write for one claimed delivery.

    status: ``sent`` (channel, ts), ``released`` (pending again, from `retry_at` if set),
    ``failed`` (error, `retry_at`), ``dead`` (error; the admins are told) or ``expired``
    (error: the last one, if any; the admins are told, grouped).
    """

    delivery: claims.Claimed
    status: str
    at: dt.datetime
    channel: str | None = None
    ts: str | None = None
    error: str | None = None
    retry_at: dt.datetime | None = None


def write_outcomes(
    session: Session,
    *,
    worker: str,
    outcomes: Sequence[Record],
    admin_channel: str | None = None,
) -> None:
    """Write `outcomes` in the caller's transaction: the ``sent`` ones in one executemany."""
    claims.record_sent_many(
        session,
        worker=worker,
        records=[
            claims.SentRecord(o.delivery.id, o.channel, o.ts, o.at)
            for o in outcomes
            if o.status == "sent"
        ],
    )
    for o in outcomes:
        if o.status == "released":
            claims.release(
                session,
                delivery_id=o.delivery.id,
                worker=worker,
                now=o.retry_at or o.at,
                error=o.error,
            )
        elif o.status == "failed":
            claims.record_failure(
                session,
                delivery_id=o.delivery.id,
                worker=worker,
                error=o.error or "failed",
                retry_at=o.retry_at,
            )
        elif o.status in ("dead", "expired"):
            _dead(session, worker=worker, outcome=o, admin_channel=admin_channel)


def _dead(session: Session, *, worker: str, outcome: Record, admin_channel: str | None) -> None:
    delivery, error = outcome.delivery, outcome.error or "failed"
    expired = outcome.status == "expired"
    if claims.record_failure(
        session,
        delivery_id=delivery.id,
        worker=worker,
        error=error,
        retry_at=None,
        status=outcome.status,
    ):
        log.log(
            logging.DEBUG if expired else logging.WARNING,  # expiries: the batch log counts them
            "delivery %s (%s → %s) is %s: %s",
            delivery.id,
            delivery.rhythm,
            delivery.recipient,
            outcome.status,
            error,
        )
        notify_admins(
            session,
            rhythm=delivery.rhythm,
            recipient=delivery.recipient,
            error=notice_error(error),
            delivery_id=delivery.id,
            admin_channel=admin_channel,
            now=outcome.at,
            expired=expired,
        )


def _unreachable(exc: Exception) -> bool:
    """The database itself is away (not one row's fault): retry everything later."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass
class _Item:
    outcome: Record
    done: asyncio.Future[bool]
    give_up: float  # loop time


class OutcomeWriter:
    """Group commit of delivery outcomes for one worker (see the module docstring)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        worker: str,
        admin_channel: str | None = None,
        give_up_after: float = 300.0,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER,
    ) -> None:
        self.session_factory = session_factory
        self.worker = worker
        self.admin_channel = admin_channel
        self.give_up_after = give_up_after
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_batch = max(1, max_batch)
        self.linger = linger
        self.batches = 0  # transactions committed (for tests and benchmarks)
        self._queue: list[_Item] = []
        self._task: asyncio.Task[None] | None = None
        self._unsettled: set[asyncio.Future[bool]] = set()
        self._poked: asyncio.Event | None = None

    def submit(self, outcome: Record) -> asyncio.Future[bool]:
        """Queue `outcome`; the future is True once committed, False if given up."""
        loop = asyncio.get_running_loop()
        item = _Item(outcome, loop.create_future(), loop.time() + self.give_up_after)
        self._unsettled.add(item.done)
        item.done.add_done_callback(self._unsettled.discard)
        self._queue.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return item.done

    async def flush(self, futures: Sequence[asyncio.Future[bool]] | None = None) -> None:
        """Wait until `futures` (default: every outcome submitted so far) are written or
        given up."""
        waiting = set(self._unsettled if futures is None else futures)
        if waiting:
            await asyncio.wait(waiting)

    def poke(self) -> None:
        """The database answered someone else: end a retry backoff now (not for the
        whole `max_delay`)."""
        if self._poked is not None:
            self._poked.set()

    async def _run(self) -> None:
        batch: list[_Item] = []
        try:
            await self._write_until_empty(batch)
        except BaseException:  # cancelled (the loop is closing): leave no future hanging
            for item in batch + self._queue:
                if not item.done.done():
                    item.done.set_result(False)
            self._queue = []
            raise

    async def _write_until_empty(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        delay = self.base_delay
        while self._queue:
            if self.linger > 0 and len(self._queue) < LINGER_BELOW:
                await asyncio.sleep(self.linger)  # let sends finishing now share the commit
            batch[:] = self._queue[: self.max_batch]
            self._queue = self._queue[self.max_batch :]
            failed, error = await asyncio.to_thread(self._write, [i.outcome for i in batch])
            for index, item in enumerate(batch):
                if index not in failed and not item.done.done():
                    item.done.set_result(True)
            if not failed:
                delay = self.base_delay
                continue
            retry: list[_Item] = []
            now = loop.time()
            for index in sorted(failed):
                item = batch[index]
                if now + delay > item.give_up:
                    log.error(
                        "delivery %s: outcome not recorded (%s); reconciliation will settle it",
                        item.outcome.delivery.id,
                        error,
                    )
                    item.done.set_result(False)
                else:
                    retry.append(item)
            batch.clear()
            if retry:
                log.warning(
                    "%d delivery outcome(s) not recorded yet (database unavailable or a bad "
                    "row), retrying in %.1fs: %s",
                    len(retry),
                    delay,
                    error,
                )
                self._queue = retry + self._queue
                self._poked = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), delay)
                self._poked = None
                delay = min(self.max_delay, delay * 2)

    def _write(self, outcomes: list[Record]) -> tuple[set[int], str]:
        """In a worker thread: the batch in one transaction; on a failure that is not an
        outage, item by item. (indexes that were not written, the last error)."""
        try:
            self._commit(outcomes)
            self.batches += 1
            return set(), ""
        except Exception as exc:
            if len(outcomes) == 1 or _unreachable(exc):
                return set(range(len(outcomes))), _describe(exc)
            error = _describe(exc)
        failed: set[int] = set()
        for index, outcome in enumerate(outcomes):
            try:
                self._commit([outcome])
                self.batches += 1
            except Exception as exc:
                error = _describe(exc)
                log.warning("delivery %s: outcome not recorded: %s", outcome.delivery.id, error)
                failed.add(index)
        return failed, error

    def _commit(self, outcomes: list[Record]) -> None:
        with self.session_factory() as session, session.begin():
            write_outcomes(
                session, worker=self.worker, outcomes=outcomes, admin_channel=self.admin_channel
            )


def _describe(exc: Exception) -> str:
    """A one-line reason for logs (SQLAlchemy's messages carry the whole statement)."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"[:300]
