"""Batched claims and group commit of outcomes (bot/sender.py, bot/outcomes.py,
bot/delivery_claims.py), on SQLite and PostgreSQL: the fast paths against the row-by-row
ones, and the failure path of a shared batch (the database away, one bad row)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery_claims as claims
from bot.outcomes import OutcomeWriter, Record
from metrics.clock import SystemClock
from rhythms.models import Delivery
from tests.bot.slack_env import bot, eventually, sandbox
from tests.bot.test_sender import add, delivery_ids_in_slack, rows

NOW = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)


class DatabaseSwitch:
    """Makes statements on `engine` fail while `down` (an outage) or when they touch
    `poison` (one bad row), as the driver would raise them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.down = False
        self.poison: int | None = None
        self.refused = 0

    def __call__(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if self.down:
            self.refused += 1
            raise OperationalError(statement, params, Exception("server closed the connection"))
        if self.poison is not None and "UPDATE deliveries" in statement:
            sets = params if many else [params]
            values = [v for p in sets for v in (p.values() if isinstance(p, dict) else p)]
            if self.poison in values:
                self.refused += 1
                raise IntegrityError(statement, params, Exception("bad row"))


@pytest.fixture
def switch(engine: Engine) -> Iterator[DatabaseSwitch]:
    flip = DatabaseSwitch(engine)
    event.listen(engine, "before_cursor_execute", flip)
    try:
        yield flip
    finally:
        event.remove(engine, "before_cursor_execute", flip)


def enqueue_many(factory: sessionmaker[Session], count: int) -> list[int]:
    return [add(factory, f"U{i:04d}", now=NOW) for i in range(count)]


def claim_all(factory: sessionmaker[Session], worker: str) -> list[claims.Claimed]:
    with factory() as session, session.begin():
        return claims.claim_due(session, worker=worker, now=NOW, limit=1000)


def test_claim_snapshots_match_the_rows(session_factory: sessionmaker[Session]) -> None:
    """The Core claim (one query with the parent joined) against the ORM rows."""
    parent = add(session_factory, "C0TEAM", part="post", now=NOW)
    child = add(session_factory, "C0TEAM", part="reply", thread_of_id=parent, now=NOW)
    plain = add(session_factory, "U0DANA", now=NOW, payload={"text": "hi", "blocks": []})
    with session_factory() as session, session.begin():
        (first,) = claims.claim_due(session, worker="w", now=NOW, limit=10)[:1]
        assert first.id == parent  # the reply waits for its parent to be sent
        claims.record_sent(
            session, delivery_id=parent, worker="w", channel="C0TEAM", ts="1.5", now=NOW
        )
    later = NOW + dt.timedelta(seconds=1)
    with session_factory() as session, session.begin():
        got = {c.id: c for c in claims.claim_due(session, worker="w2", now=later, limit=10)}
    assert set(got) == {child}  # `plain` went with the first claim
    with session_factory() as session:
        row = session.get(Delivery, child)
        assert row is not None
        expected = claims.Claimed(
            id=row.id,
            rhythm=row.rhythm,
            period_key=row.period_key,
            recipient=row.recipient,
            kind=row.kind,
            payload_json=got[child].payload_json,  # the stored text; decoded below
            attempts=row.attempts,
            claimed_by="w2",
            claimed_at=later,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_error=row.error,
            parent_channel="C0TEAM",
            parent_ts="1.5",
        )
        assert got[child] == expected
        assert got[child].payload == row.payload
        assert session.get(Delivery, plain).status == "claimed"  # type: ignore[union-attr]


def test_record_sent_many_matches_record_sent(session_factory: sessionmaker[Session]) -> None:
    ids = enqueue_many(session_factory, 4)
    claim_all(session_factory, "w")
    sent_at = NOW + dt.timedelta(seconds=2)
    with session_factory() as session, session.begin():
        claims.record_sent(
            session, delivery_id=ids[0], worker="w", channel="D0", ts="0.1", now=sent_at
        )
        many = [claims.SentRecord(i, f"D{n}", f"{n}.1", sent_at) for n, i in enumerate(ids)]
        claims.record_sent_many(session, worker="w", records=many[1:])
        claims.record_sent_many(  # another worker's claim is not ours to record
            session, worker="intruder", records=[claims.SentRecord(ids[3], "DX", "0.0", NOW)]
        )
    done = rows(session_factory)
    shape = {
        i: (d.status, d.channel, d.ts, d.sent_at, d.error, d.claimed_by, d.attempts)
        for i, d in done.items()
    }
    assert shape == {
        i: ("sent", f"D{n}", f"{n}.1", sent_at, None, "w", 1) for n, i in enumerate(ids)
    }


def test_one_drain_sends_threads_in_few_transactions(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            users = [f"U{i:04d}" for i in range(60)]
            for user in users:
                sb.state.add_user(user, name=user)
            team = sb.state.add_channel("#team")
            ids = [add(session_factory, u) for u in users]
            post = add(session_factory, team, part="post")
            reply = add(session_factory, team, part="reply", thread_of_id=post)
            async with bot(sb, session_factory, http=False) as b:
                sender = b.sender(session_factory, max_in_flight=8, claim_batch=16)
                assert await sender.drain() == 62  # the reply too, once its parent is sent
            done = rows(session_factory)
            assert {d.status for d in done.values()} == {"sent"}
            assert sorted(delivery_ids_in_slack(sb.state.all_messages())) == sorted(done)
            by_ts = {m["ts"]: m for m in sb.state.all_messages()}
            assert all(by_ts[done[i].ts]["channel"] == done[i].channel for i in ids)
            assert by_ts[done[reply].ts]["thread_ts"] == done[post].ts
            assert sender.sent == 62
            assert sender.outcomes.batches < 62  # outcomes shared transactions

    asyncio.run(scenario())


def test_a_batch_survives_an_outage_and_is_written_once(
    session_factory: sessionmaker[Session],
    switch: DatabaseSwitch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = enqueue_many(session_factory, 20)
    taken = claim_all(session_factory, "w")
    sent_at = NOW + dt.timedelta(seconds=1)

    async def scenario() -> list[bool]:
        writer = OutcomeWriter(
            session_factory, worker="w", give_up_after=60, base_delay=0.01, max_delay=0.05
        )
        switch.down = True
        futures = [
            writer.submit(Record(c, "sent", sent_at, channel=f"D{c.id}", ts=f"{c.id}.1"))
            for c in taken
        ]
        await eventually(lambda: switch.refused >= 3, within=10)  # retried as a whole
        assert not any(f.done() for f in futures)
        switch.down = False
        writer.poke()
        await writer.flush()
        first = [f.result() for f in futures]
        # The same batch again (a commit whose answer was lost): changes nothing.
        again = [writer.submit(Record(c, "sent", NOW, channel="DX", ts="0.0")) for c in taken[:5]]
        await writer.flush(again)
        return first

    with caplog.at_level(logging.WARNING):
        written = asyncio.run(scenario())
    assert written == [True] * 20
    assert "not recorded yet (database unavailable" in caplog.text
    done = rows(session_factory)
    assert {(done[i].status, done[i].channel, done[i].sent_at) for i in ids} == {
        ("sent", f"D{i}", sent_at) for i in ids
    }


def test_one_bad_row_does_not_hold_back_its_batch(
    session_factory: sessionmaker[Session],
    switch: DatabaseSwitch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = enqueue_many(session_factory, 6)
    taken = claim_all(session_factory, "w")
    switch.poison = ids[2]

    async def scenario() -> list[bool]:
        writer = OutcomeWriter(
            session_factory, worker="w", give_up_after=0.3, base_delay=0.01, max_delay=0.05
        )
        futures = [
            writer.submit(Record(c, "sent", NOW, channel="D1", ts=f"{c.id}.1")) for c in taken
        ]
        await writer.flush()
        return [f.result() for f in futures]

    with caplog.at_level(logging.WARNING):
        written = asyncio.run(scenario())
    assert written == [i != ids[2] for i in ids]  # given up on the bad one only
    assert "outcome not recorded" in caplog.text
    done = rows(session_factory)
    assert [done[i].status for i in ids] == ["claimed" if i == ids[2] else "sent" for i in ids]


def test_a_failed_claim_still_sends_what_was_claimed(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = claims.claim_due
    calls = {"n": 0}

    def flaky(session: Session, **kwargs: Any) -> list[claims.Claimed]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return real(session, **kwargs)

    async def scenario() -> None:
        with sandbox() as sb:
            users = [f"U{i:04d}" for i in range(12)]
            for user in users:
                sb.state.add_user(user, name=user)
            ids = [add(session_factory, u, now=SystemClock().now()) for u in users]
            monkeypatch.setattr(claims, "claim_due", flaky)
            async with bot(sb, session_factory, http=False) as b:
                sender = b.sender(session_factory, max_in_flight=2, claim_batch=5)
                with pytest.raises(OperationalError):
                    await sender.drain()
                await sender.outcomes.flush()
                first = {i for i, d in rows(session_factory).items() if d.status == "sent"}
                assert len(first) == 5 and first == set(
                    delivery_ids_in_slack(sb.state.all_messages())
                )
                assert {d.status for d in rows(session_factory).values()} == {"sent", "pending"}
                assert await sender.drain() == 7  # the database is back
            assert sorted(delivery_ids_in_slack(sb.state.all_messages())) == sorted(ids)

    asyncio.run(scenario())


def test_delivery_rows_are_not_touched_by_an_intruding_worker(
    session_factory: sessionmaker[Session],
) -> None:
    """Group commit keeps the owner check: a worker whose claim was taken over writes
    nothing (reconciliation's owner wins)."""
    enqueue_many(session_factory, 3)
    taken = claim_all(session_factory, "old")

    async def scenario() -> list[bool]:
        writer = OutcomeWriter(session_factory, worker="new")
        futures = [writer.submit(Record(c, "sent", NOW, channel="D", ts="1.0")) for c in taken]
        await writer.flush()
        return [f.result() for f in futures]

    assert asyncio.run(scenario()) == [True, True, True]  # written: conditionally, so no-ops
    with session_factory() as session:
        states = session.execute(select(Delivery.status, Delivery.claimed_by)).all()
    assert sorted(states) == [("claimed", "old")] * 3
