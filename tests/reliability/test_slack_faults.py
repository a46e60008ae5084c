"""A scoreboard fan-out drained through Slack 429 storms, 5xx, timeouts and dropped
connections: afterwards every delivery is in Slack exactly once and recorded `sent` with the
ts Slack gave it; no log line carries the bot token or the signing secret."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox import Faults
from tests.bot.slack_env import SIGNING_SECRET, TOKEN, bot, sandbox
from tests.reliability.support import (
    FIRES_AT,
    FULL,
    big_org,
    deliveries,
    delivery_ids_in_slack,
    fan_out,
    running_clock,
    slack_id,
    statuses,
)

REPS = int(os.environ.get("RELI_REPS", "0")) or (1000 if FULL else 300)


@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_fan_out_through_a_fault_storm_arrives_exactly_once(
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = big_org(REPS)
    total = fan_out(session_factory, cfg)
    assert total == REPS
    faults = Faults(
        rate_429=0.25,  # a storm: one call in four is refused, on top of the real limits
        rate_500=0.05,
        rate_timeout=0.02,
        rate_drop=0.03,
        timeout_seconds=0.4,
        retry_after=0.02,
        seed=13,
    )

    async def scenario() -> list[int]:
        with sandbox(faults=faults) as sb:
            for i in range(REPS):
                sb.state.add_user(slack_id(i), name=f"rep{i}")
            async with bot(sb, session_factory, http=False, timeout=0.25) as b:
                sender = b.sender(session_factory, running_clock(FIRES_AT), max_in_flight=32)
                deadline = time.monotonic() + (600 if FULL else 30)
                while True:
                    await sender.drain()
                    rows = deliveries(session_factory).values()
                    if all(d.status in ("sent", "dead") for d in rows):
                        break
                    assert time.monotonic() < deadline, (
                        statuses(session_factory),
                        Counter((c.method, c.error) for c in sb.calls),
                    )
                    await asyncio.sleep(0.02)
            errors = [c.error for c in sb.calls]
            # The faults really happened, on sends and on the history look-ups.
            assert errors.count("ratelimited") > REPS // 10
            assert errors.count("internal_error") > 3
            assert errors.count("dropped") > 3
            assert errors.count("timeout") >= 1
            messages = sb.state.all_messages()
            by_id = {
                int(m["metadata"]["event_payload"]["delivery_id"]): m
                for m in messages
                if m.get("metadata")
            }
            rows = deliveries(session_factory)
            assert all(d.status == "sent" for d in rows.values()), "none may be dead here"
            assert all(
                (d.channel, d.ts) == (by_id[d.id]["channel"], by_id[d.id]["ts"])
                for d in rows.values()
            )
            return delivery_ids_in_slack(messages)

    posted = asyncio.run(scenario())
    assert sorted(posted) == sorted(deliveries(session_factory))  # each exactly once
    out = capsys.readouterr()
    captured = caplog.text + out.out + out.err
    assert TOKEN not in captured and SIGNING_SECRET not in captured
