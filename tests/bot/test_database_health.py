"""A database without the schema, behind the code, or down: `schema_problem` says so in one
line at start; the sender backs off and logs it once (not a traceback a second) and says when
it recovers; `/healthz` answers 503 while the database does not answer. Real SQLite and
PostgreSQL (a private server for the outage, stopped and started again)."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from sqlalchemy.exc import OperationalError

from bot import db
from bot.http import start_http
from bot.runtime import DatabaseWatch, Runtime
from bot.sender import MAX_DRAIN_BACKOFF, Sender
from metrics.store import make_engine, make_session_factory
from tests.bot.slack_env import bot, eventually, sandbox
from tests.support.postgres import PostgresUnavailable, running_postgres


def test_schema_problem_names_where_the_database_is_and_what_to_run(empty_db_url: str) -> None:
    head = db.head_revision()
    empty = db.schema_problem(empty_db_url)
    assert empty == (
        f"database schema at none (no Drumbeat tables), this version needs {head}: "
        "run `drumbeat migrate`"
    )
    db.upgrade(empty_db_url, "0004")
    assert db.schema_problem(empty_db_url) == (
        f"database schema at 0004, this version needs {head}: run `drumbeat migrate`"
    )
    db.upgrade(empty_db_url)
    assert db.schema_problem(empty_db_url) is None


def test_a_database_without_the_schema_is_one_error_line_with_backoff_then_recovery(
    empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The old loop logged a 65-line traceback every second; now: one ERROR with the reason,
    waits doubling from `poll_interval`, `/healthz`-unhealthy, one INFO when it recovers."""
    engine = make_engine(empty_db_url)
    factory = make_session_factory(engine)

    async def scenario() -> None:
        with sandbox() as sb:
            async with bot(sb, factory, http=False) as b:
                sender = b.sender(factory, poll_interval=0.01)
                stop = asyncio.Event()
                started = time.monotonic()
                task = asyncio.create_task(sender.run(stop))
                await eventually(lambda: sender.drain_failures >= 7 or task.done(), within=20)
                elapsed = time.monotonic() - started
                assert not task.done()
                assert elapsed >= 0.01 * (1 + 2 + 4 + 8 + 16 + 32)  # backed off, doubling
                health = sender.health()
                assert health["ok"] is False and health["sender"] == "database_unavailable"
                assert "deliveries" in health["reason"]  # the missing table, in one line
                await asyncio.to_thread(db.upgrade, empty_db_url)
                sender.wake()
                await eventually(lambda: sender.db_error is None, within=20)
                assert sender.health() == {"ok": True, "sender": "ok"}
                stop.set()
                await task

    try:
        with caplog.at_level(logging.INFO, logger="bot.sender"):
            asyncio.run(scenario())
    finally:
        engine.dispose()
    records = [r for r in caplog.records if r.name == "bot.sender"]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "deliveries" in errors[0].getMessage() and "\n" not in errors[0].getMessage()
    assert sum("answers again" in r.getMessage() for r in records) == 1


def test_drain_backoff_doubles_up_to_its_cap() -> None:
    sender = SimpleNamespace(drain_failures=0, db_error=None)
    exc = OperationalError("SELECT 1", {}, Exception("connection refused"))
    waits, wait = [], 1.0
    for _ in range(9):
        wait = Sender._drain_failed(sender, exc, wait)  # type: ignore[arg-type]
        waits.append(wait)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, MAX_DRAIN_BACKOFF, 60.0, 60.0]
    assert sender.db_error == "Exception: connection refused"


def test_healthz_is_503_while_postgresql_is_down_and_200_when_it_is_back() -> None:
    try:
        server_cm = running_postgres()
        server = server_cm.__enter__()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    engine = make_engine(server.url("postgres") + "?connect_timeout=2")
    watch = DatabaseWatch(engine, interval=0.05, timeout=10)
    runtime = SimpleNamespace(supervised={}, sender=None, database=watch)

    async def scenario() -> None:
        app = AsyncApp(token="xoxb-x", signing_secret="s")
        http = await start_http(
            app,
            host="127.0.0.1",
            port=0,
            health=lambda: Runtime.health(runtime),  # type: ignore[arg-type]
        )
        stop = asyncio.Event()
        task = asyncio.create_task(watch.run(stop))

        async def healthz() -> tuple[int, dict[str, object]]:
            async with aiohttp.ClientSession() as s, s.get(http.url + "/healthz") as resp:
                return resp.status, await resp.json()

        try:
            await eventually(lambda: watch.error is None)
            assert await healthz() == (200, {"ok": True})
            await asyncio.to_thread(server.stop, "immediate")
            await eventually(lambda: watch.error is not None, within=20)
            status, body = await healthz()
            assert status == 503 and body["database"] == "unreachable"
            assert body["ok"] is False and body["reason"]
            await asyncio.to_thread(server.start)
            await eventually(lambda: watch.error is None, within=30)
            assert (await healthz())[0] == 200
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await http.stop()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
        server_cm.__exit__(None, None, None)
