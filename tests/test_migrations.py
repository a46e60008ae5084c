from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot import db
from metrics.models import Activity, CrmUser
from metrics.store import make_engine, make_session_factory
from rhythms.models import Delivery, RhythmRun
from rhythms.schema import all_metadata


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, all_metadata()))
    finally:
        engine.dispose()


def test_migrated_schema_matches_models(empty_db_url: str) -> None:
    db.upgrade(empty_db_url)
    assert db.current_revision(empty_db_url) is not None
    assert _diff(empty_db_url) == []


def test_downgrade_then_upgrade(empty_db_url: str) -> None:
    db.upgrade(empty_db_url)
    db.downgrade(empty_db_url, "base")
    engine = make_engine(empty_db_url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert tables == set()
    db.upgrade(empty_db_url)
    assert _diff(empty_db_url) == []


def test_datetimes_round_trip_as_aware_utc(session_factory) -> None:  # type: ignore[no-untyped-def]
    chicago = dt.timezone(dt.timedelta(hours=-6))
    at = dt.datetime(2026, 11, 23, 23, 30, tzinfo=chicago)
    with session_factory() as session:
        user = CrmUser(source="demo", external_id="u1", email="a@b.example")
        session.add(user)
        session.flush()
        session.add(
            Activity(
                source="demo",
                external_id="a1",
                kind="call",
                owner_id=user.id,
                occurred_at=at,
                modified_at=at,
            )
        )
        session.commit()
    with session_factory() as session:
        row = session.query(Activity).one()
        assert row.occurred_at == at
        assert row.occurred_at.tzinfo is not None
        assert row.occurred_at.utcoffset() == dt.timedelta(0)
        assert row.occurred_at.hour == 5  # 23:30 at UTC-6 is 05:30 UTC next day


def test_naive_datetimes_are_refused(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        session.add(
            Activity(
                source="demo",
                external_id="a1",
                kind="call",
                occurred_at=dt.datetime(2026, 1, 1),
                modified_at=dt.datetime(2026, 1, 1),
            )
        )
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()


def test_delivery_idempotency_keys(session_factory) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime(2026, 11, 23, 17, 30, tzinfo=dt.UTC)
    with session_factory() as session:
        session.add(
            RhythmRun(
                rhythm="daily_scoreboard",
                period_key="2026-11-23:America/Chicago",
                scheduled_for=now,
            )
        )
        session.add(
            Delivery(
                rhythm="daily_scoreboard",
                period_key="2026-11-23",
                recipient="U1",
                payload={"text": "hi"},
                not_before=now,
                created_at=now,
            )
        )
        session.commit()
    with session_factory() as session:
        session.add(
            Delivery(
                rhythm="daily_scoreboard",
                period_key="2026-11-23",
                recipient="U1",
                payload={"text": "again"},
                not_before=now,
                created_at=now,
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()
    with session_factory() as session:
        session.add(
            RhythmRun(
                rhythm="daily_scoreboard",
                period_key="2026-11-23:America/Chicago",
                scheduled_for=now,
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
    assert make_session_factory(engine) is not None


def test_savepoint_first_in_a_transaction_rolls_back(session_factory) -> None:  # type: ignore[no-untyped-def]
    """On SQLite the driver used to commit a savepoint opened before any write: a rollback
    must undo an idempotent enqueue like any other write, on both engines."""
    from sqlalchemy import func, select

    from rhythms.outbox import enqueue

    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    with session_factory() as session:
        enqueue(session, rhythm="r", period_key="p", recipient="U1", payload={"text": "x"}, now=now)
        session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_0006_records_what_digests_before_it_showed(empty_db_url: str) -> None:
    """After the upgrade the heartbeat posts in a digest's thread every update the digest
    did not show: the updates of digests posted before 0006 must count as shown."""
    from sqlalchemy import func, select

    from metrics.models import Person
    from rhythms.maple import save_reply
    from rhythms.models import DigestShown, ReplyRevision

    db.upgrade(empty_db_url, "0005")
    engine = make_engine(empty_db_url)
    at = dt.datetime(2026, 11, 23, 17, tzinfo=dt.UTC)
    with make_session_factory(engine)() as session:
        ann = Person(email="ann@x.example", name="Ann", role="manager")
        bo = Person(email="bo@x.example", name="Bo", role="manager")
        session.add_all([ann, bo])
        session.flush()
        answers = {"advanced": "A", "planned": "- P"}
        for week, person, submit in (
            ("2026-W47", ann, True),  # in week 47's digest: shown
            ("2026-W47", bo, False),  # a draft: nothing shown
            ("2026-W48", ann, True),  # no digest yet that week
        ):
            save_reply(
                session,
                rhythm="maple",
                period_key=week,
                person_id=person.id,
                answers=answers,
                submit=submit,
                now=at,
            )
        edited = save_reply(
            session,
            rhythm="maple",
            period_key="2026-W47",
            person_id=ann.id,
            answers={**answers, "advanced": "A, edited"},
            submit=True,
            now=at,
        )
        session.add(
            RhythmRun(
                rhythm="maple_digest",
                period_key="2026-W47",
                scheduled_for=at,
                status="done",
                finished_at=at,
            )
        )
        session.commit()
        reply_id = edited.reply.id
        latest = session.scalar(
            select(func.max(ReplyRevision.id)).where(ReplyRevision.reply_id == reply_id)
        )
    db.upgrade(empty_db_url)
    with make_session_factory(engine)() as session:
        shown = session.scalars(select(DigestShown))
        rows = [(r.reply_id, r.revision_id, r.shown_in, r.shown_at) for r in shown]
    assert rows == [(reply_id, latest, "backfill", at)]
    db.downgrade(empty_db_url, "0005")
    assert "maple_digest_shown" not in inspect(engine).get_table_names()
    engine.dispose()
