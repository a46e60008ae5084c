from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from bot.cli import main
from metrics.models import MetricDaily, RollupDirty
from metrics.rollups import rebuild_rollups
from metrics.store import make_engine, make_session_factory
from rhythms.config import load_org_config
from tests.conftest import EXAMPLE_CONFIG
from tests.metrics.builders import snapshot


def test_rollups_rebuild_repairs_tampered_rollups(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "demo")
    assert main(["sync", "--config", str(EXAMPLE_CONFIG)]) == 0
    capsys.readouterr()
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with factory() as session, session.begin():
            expected = snapshot(session)
            assert expected, "the demo sync rolled nothing up"
            victim = next(iter(expected))
            session.execute(delete(MetricDaily).where(MetricDaily.person_id == victim[0]))
            session.execute(update(MetricDaily).values(value=MetricDaily.value + 1))
        assert main(["rollups", "rebuild", "--config", str(EXAMPLE_CONFIG)]) == 0
        captured = capsys.readouterr()
        with factory() as session:
            repaired = snapshot(session)
            assert repaired == expected
            assert session.scalar(select(func.count()).select_from(RollupDirty)) == 0
            rows = session.scalar(select(func.count()).select_from(MetricDaily))
        assert "rebuilt in" in captured.out and f": {rows:,} rows" in captured.out
        if db_url.startswith("postgresql"):
            # only the differences are written: the victim's rows inserted, every other row
            # (value + 1) deleted and inserted
            victims = sum(1 for key in expected if key[0] == victim[0])
            assert f"({2 * (rows - victims) + victims:,} changed)" in captured.out
            assert "writing the rows that changed" in captured.err  # progress line
        else:
            assert "changed" not in captured.out
            assert "indexing and swapping" in captured.err
        assert "unmapped records" in captured.out
        # the same as the Python reference rebuild
        with factory() as session:
            rebuild_rollups(session, config=load_org_config(EXAMPLE_CONFIG), sql=False)
            assert snapshot(session) == repaired
            session.rollback()
    finally:
        engine.dispose()


def test_rollups_rebuild_reports_a_missing_schema(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", empty_db_url)
    assert main(["rollups", "rebuild", "--config", str(EXAMPLE_CONFIG)]) == 1
    assert "drumbeat migrate" in capsys.readouterr().err
