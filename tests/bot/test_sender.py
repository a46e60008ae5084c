"""The outbox sender against the sandbox over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.failures import ADMIN_RHYTHM
from bot.reconcile import delivery_metadata
from bot.sandbox import Faults
from bot.sandbox.state import BOT_USER_ID
from metrics.clock import SystemClock, TravellingClock
from metrics.models import Person
from rhythms.models import Delivery
from rhythms.outbox import enqueue
from tests.bot.slack_env import Bot, bot, eventually, sandbox

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake chart bytes").decode()


def add(factory: sessionmaker[Session], recipient: str, **kwargs: Any) -> int:
    kwargs.setdefault("rhythm", "daily_scoreboard")
    kwargs.setdefault("period_key", "2026-11-23")
    kwargs.setdefault("payload", {"text": f"hello {recipient}"})
    kwargs.setdefault("now", SystemClock().now())
    with factory() as session, session.begin():
        row = enqueue(session, recipient=recipient, **kwargs)
        session.flush()
        return row.id


def rows(factory: sessionmaker[Session]) -> dict[int, Delivery]:
    with factory() as session:
        return {d.id: d for d in session.scalars(select(Delivery))}


async def drain_until_settled(b: Bot, factory: sessionmaker[Session], within: float = 30) -> None:
    """Drain until no row is pending, failed or claimed (retries fall due within ms)."""
    sender = b.sender(factory)
    deadline = time.monotonic() + within
    while True:
        await sender.drain()
        open_rows = [d for d in rows(factory).values() if d.status not in ("sent", "dead")]
        if not open_rows:
            return
        assert time.monotonic() < deadline, f"{len(open_rows)} deliveries still open"
        await asyncio.sleep(0.02)


def delivery_ids_in_slack(messages: list[dict[str, object]]) -> list[int]:
    ids = []
    for message in messages:
        meta = message.get("metadata")
        if isinstance(meta, dict):
            ids.append(int(meta["event_payload"]["delivery_id"]))
    return ids


def test_each_kind_is_sent_and_recorded(session_factory: sessionmaker[Session]) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0DANA", name="dana", email="dana@acme.example")
            team = sb.state.add_channel("#team-sdr", members=["U0DANA"])
            dm = add(session_factory, "U0DANA", part="dm")
            post = add(
                session_factory,
                team,
                part="post",
                payload={
                    "text": "scoreboard",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": "*Calls* 12/20"}}
                    ],
                },
            )
            reply = add(
                session_factory,
                team,
                part="reply",
                thread_of_id=post,
                payload={"text": "details in thread"},
            )
            edit = add(
                session_factory,
                team,
                part="edit",
                kind="update",
                thread_of_id=post,
                payload={"text": "scoreboard (final)"},
            )
            add(
                session_factory,
                team,
                part="eph",
                kind="ephemeral",
                payload={"user": "U0DANA", "text": "only you"},
            )
            add(
                session_factory,
                "U0DANA",
                part="home",
                kind="view_publish",
                payload={"view": {"type": "home", "blocks": []}},
            )
            chart = add(
                session_factory,
                team,
                part="chart",
                kind="upload",
                thread_of_id=post,
                payload={
                    "filename": "calls.png",
                    "title": "Calls",
                    "content_base64": PNG,
                    "comment": "today's calls",
                },
            )
            async with bot(sb, session_factory, http=False) as b:
                await drain_until_settled(b, session_factory)

            done = rows(session_factory)
            assert {d.status for d in done.values()} == {"sent"}
            channel_msgs = sb.state.messages(team)
            parent = next(m for m in channel_msgs if m["ts"] == done[post].ts)
            assert parent["text"] == "scoreboard (final)" and "edited" in parent
            threaded = [m for m in channel_msgs if m.get("thread_ts") == parent["ts"]]
            assert [m["ts"] for m in threaded if "files" not in m] == [done[reply].ts]
            assert [m["files"][0]["title"] for m in threaded if "files" in m] == ["Calls"]
            assert done[chart].channel == team  # Slack shares uploads asynchronously: no ts
            assert done[edit].ts == done[post].ts
            dm_msgs = sb.state.dm_messages("U0DANA")
            assert [m["text"] for m in dm_msgs] == ["hello U0DANA"]
            assert done[dm].channel == sb.state.dm_with("U0DANA").id
            assert [e["text"] for e in sb.state.ephemerals("U0DANA")] == ["only you"]
            assert sb.state.home_view("U0DANA") is not None
            files = sb.state.uploaded_files()
            assert len(files) == 1 and files[0]["title"] == "Calls"
            assert files[0]["channel"] == team and files[0]["name"] == f"calls.d{chart}.png"
            assert base64.b64encode(files[0]["content"]).decode() == PNG
            assert sb.count("conversations.open") == 0  # DMs go straight to the user id

    asyncio.run(scenario())


def test_200_deliveries_under_injected_faults_arrive_exactly_once(
    session_factory: sessionmaker[Session],
) -> None:
    faults = Faults(
        rate_429=0.1,
        rate_500=0.1,
        rate_timeout=0.03,
        timeout_seconds=0.6,
        retry_after=0.05,
        seed=11,
    )

    async def scenario() -> None:
        with sandbox(faults=faults) as sb:
            users = [f"U{i:05d}" for i in range(150)]
            for user in users:
                sb.state.add_user(user, name=user.lower())
            channels = [sb.state.add_channel(f"#team-{i}") for i in range(5)]
            ids = [add(session_factory, u, part="dm") for u in users]
            ids += [add(session_factory, c, part=f"p{i}") for c in channels for i in range(10)]
            assert len(ids) == 200
            async with bot(sb, session_factory, http=False, timeout=0.3) as b:
                await drain_until_settled(b, session_factory, within=60)

            posted = delivery_ids_in_slack(sb.state.all_messages())
            assert sorted(posted) == sorted(ids)  # every one, none twice
            done = rows(session_factory)
            assert all(d.status == "sent" for d in done.values())
            by_ts = {(m["channel"], m["ts"]) for m in sb.state.all_messages()}
            assert all((d.channel, d.ts) in by_ts for d in done.values())
            errors = [c.error for c in sb.calls]
            assert errors.count("ratelimited") > 5 and errors.count("internal_error") > 5
            assert errors.count("timeout") >= 1  # posted but unanswered: found, not resent

    asyncio.run(scenario())


def test_lost_answer_is_found_in_history_not_posted_twice(
    session_factory: sessionmaker[Session],
) -> None:
    faults = Faults(rate_timeout=1.0, timeout_seconds=0.5, methods=frozenset({"chat.postMessage"}))

    async def scenario() -> None:
        with sandbox(faults=faults) as sb:
            channel = sb.state.add_channel("#alerts")
            first = add(session_factory, channel, part="a")
            async with bot(sb, session_factory, http=False, timeout=0.2) as b:
                await drain_until_settled(b, session_factory)
            assert delivery_ids_in_slack(sb.state.messages(channel)) == [first]
            await eventually(lambda: sb.count("chat.postMessage") == 1)  # logged after the hang
            assert [c.error for c in sb.calls if c.method == "chat.postMessage"] == ["timeout"]
            assert rows(session_factory)[first].ts == sb.state.messages(channel)[0]["ts"]

    asyncio.run(scenario())


def test_stale_claims_are_reconciled_on_start(session_factory: sessionmaker[Session]) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0A", name="a")
            sb.state.add_user("U0B", name="b")
            # A travelling clock far from Slack's own time (as in the demo): the lookup
            # must not depend on the two agreeing.
            clock = TravellingClock(dt.datetime(2027, 6, 1, 9, tzinfo=dt.UTC))
            posted = add(session_factory, "U0A", now=clock.now())
            unposted = add(session_factory, "U0B", now=clock.now())
            channel = sb.state.add_channel("#team", members=["U0A"])
            ephemeral = add(
                session_factory,
                channel,
                now=clock.now(),
                kind="ephemeral",
                payload={"user": "U0A", "text": "only you"},
            )
            home = add(
                session_factory,
                "U0A",
                now=clock.now(),
                kind="view_publish",
                part="home",
                payload={"view": {"type": "home", "blocks": []}},
            )
            long_ago = clock.now() - dt.timedelta(hours=1)
            with session_factory() as session, session.begin():
                for row in session.scalars(select(Delivery)):
                    row.status, row.claimed_by, row.claimed_at = "claimed", "dead-1", long_ago
            async with bot(sb, session_factory, http=False) as b:
                # The dead worker's post reached Slack; its answer never reached the DB.
                await b.client.chat_postMessage(
                    channel="U0A", text="hello U0A", metadata=delivery_metadata(posted)
                )
                sender = b.sender(session_factory, clock)
                assert await sender.reconcile() == 4
                await sender.drain()
            done = rows(session_factory)
            assert done[posted].status == done[unposted].status == "sent"
            # An ephemeral cannot be read back: at most once, never guessed into a repeat.
            assert (done[ephemeral].status, done[ephemeral].error) == ("dead", "outcome_unknown")
            assert sb.state.ephemerals("U0A") == []
            assert done[home].status == "sent" and sb.state.home_view("U0A") is not None
            assert len(sb.state.dm_messages("U0A")) == 1
            assert done[posted].ts == sb.state.dm_messages("U0A")[0]["ts"]
            assert len(sb.state.dm_messages("U0B")) == 1

    asyncio.run(scenario())


def test_permanent_failures_are_dead_and_the_admin_is_told_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        session.add(
            Person(email="sam@acme.example", name="Sam", role="admin", slack_user_id="U0ADMIN")
        )

    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0ADMIN", name="sam")
            private = sb.state.add_channel("#sales-leaders", bot_member=False)
            day1 = add(session_factory, private, rhythm="control_tower", period_key="d1")
            day2 = add(session_factory, private, rhythm="control_tower", period_key="d2")
            too_many = [{"type": "divider"}] * 51
            broken = add(
                session_factory,
                private.replace("C", "C"),
                rhythm="digest",
                period_key="d1",
                payload={"text": "x", "blocks": too_many},
            )
            async with bot(sb, session_factory, http=False) as b:
                await drain_until_settled(b, session_factory)
            done = rows(session_factory)
            assert (done[day1].status, done[day1].error) == ("dead", "not_in_channel")
            assert done[day2].status == "dead"
            assert (done[broken].status, done[broken].error) == ("dead", "invalid_blocks")
            notices = sb.state.dm_messages("U0ADMIN")
            assert len(notices) == 2  # one per (rhythm, recipient, error), not per day
            text = " ".join(n["text"] for n in notices)
            assert "control_tower" in text and f"<#{private}>" in text
            assert "invite the bot" in text and "invalid_blocks" in text
            admin_rows = [d for d in done.values() if d.rhythm == ADMIN_RHYTHM]
            assert len(admin_rows) == 2 and all(d.status == "sent" for d in admin_rows)

    asyncio.run(scenario())


def test_two_senders_racing_send_each_delivery_once(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            users = [f"U{i:04d}" for i in range(40)]
            for user in users:
                sb.state.add_user(user, name=user)
            ids = [add(session_factory, u) for u in users]
            async with bot(sb, session_factory, http=False) as b:
                one = b.sender(session_factory, worker_id="one", max_in_flight=4)
                two = b.sender(session_factory, worker_id="two", max_in_flight=4)
                await asyncio.gather(one.drain(), two.drain())
            assert sorted(delivery_ids_in_slack(sb.state.all_messages())) == sorted(ids)
            assert one.sent + two.sent == len(ids)
            claimed_by = {d.claimed_by for d in rows(session_factory).values()}
            assert claimed_by <= {"one", "two"}

    asyncio.run(scenario())


def test_bot_user_never_gets_a_dm(session_factory: sessionmaker[Session]) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            add(session_factory, BOT_USER_ID)
            async with bot(sb, session_factory, http=False) as b:
                await drain_until_settled(b, session_factory)
            (row,) = rows(session_factory).values()
            assert (row.status, row.error) == ("dead", "cannot_dm_bot")

    asyncio.run(scenario())


def test_channels_named_by_name_are_resolved_for_history_and_uploads(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            for i in range(5):
                sb.state.add_channel(f"#other-{i}")
            sales = sb.state.add_channel("#sales")
            posted = add(session_factory, "#sales", part="msg")
            chart = add(
                session_factory,
                "#sales",
                part="chart",
                kind="upload",
                payload={"filename": "pipeline.png", "title": "Pipeline", "content_base64": PNG},
            )
            long_ago = SystemClock().now() - dt.timedelta(hours=1)
            with session_factory() as session, session.begin():
                row = session.get(Delivery, posted)
                assert row is not None
                row.status, row.claimed_by, row.claimed_at = "claimed", "dead-1", long_ago
            async with bot(sb, session_factory, http=False) as b:
                await b.client.chat_postMessage(
                    channel="#sales", text="hello #sales", metadata=delivery_metadata(posted)
                )
                sender = b.sender(session_factory)
                assert await sender.reconcile() == 1
                await drain_until_settled(b, session_factory)
            done = rows(session_factory)
            assert done[posted].channel == sales and done[posted].status == "sent"
            assert len([m for m in sb.state.messages(sales) if "files" not in m]) == 1
            assert done[chart].status == "sent" and done[chart].channel == sales
            assert [f["title"] for f in sb.state.uploaded_files()] == ["Pipeline"]
            assert sb.count("conversations.list") >= 1

    asyncio.run(scenario())
