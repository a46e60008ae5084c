"""Migration 0007: `rhythm_team_overrides` (a rhythm switched off for one team) comes and
goes with its revision, on SQLite and PostgreSQL, keyed by (rhythm, team)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from bot import db
from metrics.store import make_engine, make_session_factory
from rhythms.models import RhythmTeamOverride

AT = dt.datetime(2026, 11, 25, 21, tzinfo=dt.UTC)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_0007_adds_the_per_team_switch_table_and_takes_it_away(empty_db_url: str) -> None:
    db.upgrade(empty_db_url, "0006")
    assert "rhythm_team_overrides" not in _tables(empty_db_url)
    db.upgrade(empty_db_url, "0007")
    assert db.current_revision(empty_db_url) == "0007"
    engine = make_engine(empty_db_url)
    try:
        found = inspect(engine)
        assert found.get_pk_constraint("rhythm_team_overrides")["constrained_columns"] == [
            "rhythm",
            "team_key",
        ]
        assert {c["name"]: c["nullable"] for c in found.get_columns("rhythm_team_overrides")} == {
            "rhythm": False,
            "team_key": False,
            "changed_by": False,
            "changed_at": False,
        }
        factory = make_session_factory(engine)
        with factory() as session:
            for team in ("sdr", "sdrw"):
                session.add(
                    RhythmTeamOverride(
                        rhythm="team_scoreboard", team_key=team, changed_by="U1", changed_at=AT
                    )
                )
            session.commit()
        with factory() as session:
            session.add(
                RhythmTeamOverride(
                    rhythm="team_scoreboard", team_key="sdrw", changed_by="U2", changed_at=AT
                )
            )
            with pytest.raises(IntegrityError):
                session.commit()
        with factory() as session:
            row = session.get(RhythmTeamOverride, ("team_scoreboard", "sdr"))
            assert row is not None and row.changed_at == AT
    finally:
        engine.dispose()
    db.downgrade(empty_db_url, "0006")
    assert db.current_revision(empty_db_url) == "0006"
    assert "rhythm_team_overrides" not in _tables(empty_db_url)
    assert "maple_digest_shown" in _tables(empty_db_url)  # 0006's table stays
