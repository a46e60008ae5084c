"""The sender through what operations throw at it: a Slack outage of minutes (retried until
the delivery expires, behind a circuit breaker; admins told once per rhythm and error), a
token Slack refuses (sending paused, rows kept, one ERROR, `/healthz` 503), SIGTERM in the
middle of a fan-out (claims handed back), a database error at start-up (the loop survives;
background tasks are supervised). Sandbox Slack over real HTTP; time is a travelling clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery_claims as claims
from bot.circuit import CircuitBreaker
from bot.failures import ADMIN_RHYTHM, fix_for
from bot.http import start_http
from bot.runtime import Supervised, supervise
from bot.sandbox import Faults, running_sandbox
from metrics.clock import TravellingClock
from rhythms.models import Delivery
from tests.bot.slack_env import TOKEN, bot, eventually, fast_limits, sandbox
from tests.bot.test_sender import add, delivery_ids_in_slack, rows

T0 = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)


def statuses(factory: sessionmaker[Session]) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows(factory).values():
        if row.rhythm != ADMIN_RHYTHM:
            found[row.status] = found.get(row.status, 0) + 1
    return found


# -- 1. a Slack outage -------------------------------------------------------------------------
def test_breaker_opens_on_one_failure_class_and_half_opens() -> None:
    breaker = CircuitBreaker(window=10, min_failures=5, share=0.8, base=5.0, cap=20.0)
    now = T0
    for _ in range(4):
        assert not breaker.record(now, "slack_unreachable")
    assert breaker.allows(now)
    assert breaker.record(now, "slack_unreachable")  # the fifth of five
    assert not breaker.allows(now + dt.timedelta(seconds=4))
    later = now + dt.timedelta(seconds=5)
    assert breaker.allows(later)  # half-open: one try
    assert breaker.record(later, "slack_unreachable")  # fails again: twice as long
    assert breaker.open_until == later + dt.timedelta(seconds=10)
    again = later + dt.timedelta(seconds=10)
    assert breaker.allows(again)
    breaker.record(again, None)  # Slack answers: closed, back to the base delay
    assert breaker.open_until is None and breaker.allows(again)
    mixed = CircuitBreaker(window=10, min_failures=5, share=0.8)
    for i in range(10):  # half the sends succeed: not an outage
        mixed.record(now, "slack_unavailable" if i % 2 else None)
    assert mixed.allows(now)


@pytest.mark.parametrize("outage", ["500", "refused"])
def test_a_slack_outage_of_minutes_delays_deliveries_but_kills_none(
    outage: str, session_factory: sessionmaker[Session]
) -> None:
    """All sends fail (Slack answers 500 / refuses connections) for ~3 simulated minutes
    of claims: no row is dead (the old policy killed them after 8 claims), the breaker
    opened instead of every row burning its tries, and once Slack is back every row is
    sent exactly once, with no admin notice."""
    clock = TravellingClock(T0)
    users = [f"U{i:04d}" for i in range(12)]

    async def scenario() -> None:
        faults = Faults(rate_500=1.0 if outage == "500" else 0.0)
        with sandbox(faults=faults) as sb:
            sb.state.add_channel("#revops")
            for user in users:
                sb.state.add_user(user, name=user.lower())
            ids = [add(session_factory, u, now=T0) for u in users]
            async with bot(sb, session_factory, http=False) as b:
                if outage == "refused":
                    b.client.base_url = "http://127.0.0.1:9/api/"
                sender = b.sender(session_factory, clock, admin_channel="#revops")
                for _ in range(20):  # 20 claims, 10 simulated seconds apart (8 used to kill)
                    await sender.drain()
                    clock.advance(dt.timedelta(seconds=10))
                assert sender.breaker.openings >= 1
                assert "dead" not in statuses(session_factory)
                faults.rate_500 = 0.0  # Slack is back
                b.client.base_url = sb.api_url
                for _ in range(10):
                    clock.advance(dt.timedelta(minutes=1))
                    await sender.drain()
                    if statuses(session_factory) == {"sent": len(users)}:
                        break
            assert statuses(session_factory) == {"sent": len(users)}
            posted = delivery_ids_in_slack(sb.state.all_messages())
            assert sorted(posted) == sorted(ids)  # each once, none lost
            assert not [r for r in rows(session_factory).values() if r.rhythm == ADMIN_RHYTHM]

    asyncio.run(scenario())


def test_deliveries_past_expiry_in_an_outage_expire_with_one_grouped_notice(
    session_factory: sessionmaker[Session],
) -> None:
    """Slack refuses connections until the deliveries' expiry: they are `expired`, never
    sent late, and #revops gets one notice for the rhythm and error with the count (not one
    per recipient)."""
    clock = TravellingClock(T0)
    users = [f"U{i:04d}" for i in range(6)]

    async def scenario() -> None:
        with sandbox() as sb:
            revops = sb.state.add_channel("#revops")
            for user in users:
                sb.state.add_user(user, name=user.lower())
            for user in users:
                add(session_factory, user, now=T0, expires_at=T0 + dt.timedelta(minutes=30))
            async with bot(sb, session_factory, http=False) as b:
                b.client.base_url = "http://127.0.0.1:9/api/"
                sender = b.sender(session_factory, clock, admin_channel="#revops")
                for _ in range(8):
                    await sender.drain()
                    clock.advance(dt.timedelta(minutes=5))
                assert statuses(session_factory) == {"expired": len(users)}
                b.client.base_url = sb.api_url
                clock.advance(dt.timedelta(minutes=10))  # the breaker's pause is over
                await sender.drain()
            assert [m for m in sb.state.all_messages() if m["channel"] != revops] == []
            notices = sb.state.messages(revops)
            assert len(notices) == 1
            assert "6 recipients" in notices[0]["text"] and "daily_scoreboard" in notices[0]["text"]
            assert "connection_failed" in notices[0]["text"]

    asyncio.run(scenario())


def test_permanent_failures_of_a_fan_out_are_one_notice_with_a_count(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            revops = sb.state.add_channel("#revops")
            ghosts = ["UGHOST1", "UGHOST2", "UGHOST3"]  # not in the workspace
            for ghost in ghosts:
                add(session_factory, ghost)
            async with bot(sb, session_factory, http=False) as b:
                await b.sender(session_factory, admin_channel="#revops").drain()
                await b.sender(session_factory, admin_channel="#revops").drain()
            assert statuses(session_factory) == {"dead": 3}
            notices = sb.state.messages(revops)
            assert len(notices) == 1
            text = notices[0]["text"]
            assert "3 recipients" in text and all(f"<@{g}>" in text for g in ghosts)
            assert "channel_not_found" in text

    asyncio.run(scenario())


def test_an_unknown_user_is_not_called_a_channel() -> None:
    assert "not a user of this workspace" in fix_for("channel_not_found", "UGHOST")
    assert "check the channel #sales exists" in fix_for("channel_not_found", "#sales")


# -- 2. a token Slack refuses ----------------------------------------------------------------
def test_a_refused_token_pauses_sending_keeps_rows_and_says_so_once(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    clock = TravellingClock(T0)

    async def scenario() -> None:
        # the sandbox expects another token: every call answers invalid_auth
        with running_sandbox(token="xoxb-the-new-one", limits=fast_limits()) as sb:
            sb.state.add_channel("#revops")
            for i in range(20):
                sb.state.add_user(f"U{i:04d}", name=f"u{i}")
                add(session_factory, f"U{i:04d}", now=T0)
            async with bot(sb, session_factory) as b:
                sender = b.sender(session_factory, clock, admin_channel="#revops")
                assert b.app is not None
                server = await start_http(b.app, host="127.0.0.1", port=0, health=sender.health)
                try:
                    for _ in range(3):
                        await sender.drain()
                        clock.advance(dt.timedelta(seconds=30))
                    async with (
                        aiohttp.ClientSession() as http,
                        http.get(server.url + "/healthz") as health,
                    ):
                        assert health.status == 503
                        body = await health.json()
                    assert body["sender"] == "paused" and body["reason"] == "invalid_auth"
                finally:
                    await server.stop()
            assert statuses(session_factory) == {"pending": 20}  # kept, not dead
            assert sb.count("chat.postMessage") <= 16  # paused at once, not 20 × tries

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "invalid_auth" in errors[0].getMessage()
    assert TOKEN not in caplog.text


def test_requeue_gives_dead_rows_back_with_a_new_expiry(
    session_factory: sessionmaker[Session],
) -> None:
    dead = add(session_factory, "U1", now=T0)
    unknown = add(
        session_factory, "U2", now=T0, kind="ephemeral", payload={"user": "U2", "text": "x"}
    )
    other = add(session_factory, "U3", now=T0, rhythm="digest")
    expired = add(session_factory, "U4", now=T0)
    with session_factory() as session, session.begin():
        for row in session.scalars(select(Delivery)):
            row.status, row.attempts = "dead", 8
            row.error = "outcome_unknown" if row.id == unknown else "invalid_auth"
        session.get(Delivery, expired).status = "expired"  # type: ignore[union-attr]
    now = T0 + dt.timedelta(days=1)
    with session_factory() as session, session.begin():
        got = claims.requeue(
            session, now=now, expires_at=now + dt.timedelta(hours=2), rhythm="daily_scoreboard"
        )
    assert [r[0] for r in got] == [dead]  # not the ephemeral, not another rhythm
    with session_factory() as session, session.begin():
        got = claims.requeue(
            session, now=now, expires_at=now, statuses=("dead", "expired"), dry_run=True
        )
    assert [r[0] for r in got] == [other, expired]
    done = rows(session_factory)
    assert (done[dead].status, done[dead].attempts) == ("pending", 0)
    assert done[dead].expires_at == now + dt.timedelta(hours=2) and done[dead].not_before == now
    assert done[unknown].status == done[other].status == "dead"  # untouched (dry run too)
    assert done[expired].status == "expired"


# -- 3. SIGTERM mid-fan-out ------------------------------------------------------------------
def test_stop_mid_drain_finishes_sends_in_flight_and_releases_the_rest(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            users = [f"U{i:04d}" for i in range(30)]
            for user in users:
                sb.state.add_user(user, name=user.lower())
                add(session_factory, user)
            sb.latency["chat.postMessage"] = 0.1
            async with bot(sb, session_factory, http=False) as b:
                sender = b.sender(session_factory, max_in_flight=2, claim_batch=30)
                stop = asyncio.Event()
                task = asyncio.create_task(sender.run(stop))
                await eventually(lambda: sb.count("chat.postMessage") >= 2)
                stop.set()
                await asyncio.wait_for(task, timeout=5)
            done = statuses(session_factory)
            assert "claimed" not in done  # nothing left for the 600 s lease
            assert done.get("pending", 0) >= 20  # handed back, not drained on
            assert done["sent"] == len(delivery_ids_in_slack(sb.state.all_messages()))

    asyncio.run(scenario())


# -- 4. a database error at start-up ---------------------------------------------------------
def test_a_database_error_in_the_first_reconcile_does_not_kill_the_sender(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = claims.take_over_stale
    calls: list[int] = []

    def flaky(**kwargs: Any) -> list[claims.Claimed]:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return original(**kwargs)

    monkeypatch.setattr(claims, "take_over_stale", flaky)

    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0A", name="a")
            add(session_factory, "U0A")
            async with bot(sb, session_factory, http=False) as b:
                sender = b.sender(session_factory, poll_interval=0.01)
                stop = asyncio.Event()
                task = asyncio.create_task(sender.run(stop))
                await eventually(lambda: len(sb.state.dm_messages("U0A")) == 1 or task.done())
                assert not task.done()
                stop.set()
                await task

    asyncio.run(scenario())
    assert len(calls) >= 2


def test_supervise_logs_a_crash_and_restarts_the_task(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def scenario() -> Supervised:
        stop = asyncio.Event()
        state = Supervised()

        async def work() -> None:
            runs.append(1)
            if len(runs) == 1:
                raise RuntimeError("boom")
            stop.set()

        await asyncio.wait_for(supervise("test task", work, stop, state, backoff=0.01), 5)
        return state

    with caplog.at_level(logging.ERROR):
        state = asyncio.run(scenario())
    assert len(runs) == 2 and state.restarts == 1 and state.last_error == "RuntimeError"
    crash = next(r for r in caplog.records if "test task crashed" in r.getMessage())
    assert crash.exc_info is not None
