from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from metrics.models import Activity, CrmUser, SyncRun
from metrics.store import make_engine, make_session_factory
from tests.conftest import EXAMPLE_CONFIG


def test_sync_demo_source_loads_maps_owners_and_summarises(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "demo")
    assert main(["sync", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "activities" in out and "ok" in out and "synced demo" in out
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        users = session.scalars(select(CrmUser).where(CrmUser.source == "demo")).all()
        mapped = [u for u in users if u.person_id is not None]
        assert len(mapped) == len(users) - 1  # all but the departed rep, Diego via crm_email
        assert any(u.email == "d.alvarez@acme-sales.example" and u.person_id for u in users)
        assert session.scalar(select(Activity.id).limit(1)) is not None
        assert session.scalars(select(SyncRun.status)).all() == ["ok"]
    engine.dispose()
    assert main(["sync", "--config", str(EXAMPLE_CONFIG)]) == 0  # incremental: nothing new
    assert "synced demo" in capsys.readouterr().out


def test_sync_reports_missing_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    assert main(["sync", "--source", "hubspot", "--config", str(EXAMPLE_CONFIG)]) == 2
    assert "HUBSPOT_TOKEN" in capsys.readouterr().err
