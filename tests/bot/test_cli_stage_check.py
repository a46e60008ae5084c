"""`drumbeat check-config --crm` with `[pipeline] stages`: what the list and the synced deals
disagree on is printed as warnings (stages deals entered that are not listed, listed stages
no deal entered), never silently dropped; on both engines, through the real CLI."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.cli import main
from metrics.models import DealStageChange
from rhythms.config import load_org_config
from tests.conftest import EXAMPLE_CONFIG
from tests.metrics.builders import Org

CFG = load_org_config(EXAMPLE_CONFIG)
PREFIXES = ("DRUMBEAT_", "SLACK_", "HUBSPOT_", "SALESFORCE_", "PIPEDRIVE_")
SECRET = "secretpw"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(PREFIXES) or name == "PORT":
            monkeypatch.delenv(name)


def _config_with(tmp_path: Path, stages: list[str]) -> Path:
    listed = ", ".join(f'"{s}"' for s in stages)
    path = tmp_path / "drumbeat.toml"
    path.write_text(EXAMPLE_CONFIG.read_text() + f"\n[pipeline]\nstages = [{listed}]\n")
    assert tomllib.loads(path.read_text())["pipeline"]["stages"] == stages
    return path


def _deals(session: Session) -> None:
    """Pipedrive-like deals (won/lost keep their last open stage) and a HubSpot-like one."""
    org = Org(session, CFG, dt.date(2026, 7, 1))
    chloe = next(name for name in org.owner if name.startswith("chloe."))

    def deal(*stages: str, **closing: Any) -> None:
        made = org.deal(chloe, dt.datetime(2026, 10, 5, 15, tzinfo=dt.UTC), **closing)
        for i, stage in enumerate(stages):
            entered = dt.datetime(2026, 10, 6 + i, 15, tzinfo=dt.UTC)
            session.add(DealStageChange(deal_id=made.id, stage=stage, entered_at=entered))

    closed = dt.datetime(2026, 10, 28, 15, tzinfo=dt.UTC)
    deal("Qualified", "Demo", "Proposal", "Negotiation", closed=closed, won=True)
    deal("Qualified", "Demo", "Proposal", "Negotiation", closed=closed)
    deal("Qualified", "Demo", "Proposal")
    deal("Qualified", "closedwon", closed=closed, won=True)
    session.commit()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def test_unlisted_and_unreached_stages_are_reported(
    session: Session,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _deals(session)
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    path = _config_with(tmp_path, ["Qualified", "demo", "Proposal", "Contract [signed]"])
    code, lines = _run(["check-config", "--crm", str(path)], capsys)
    assert code == 1  # the builder's unmapped "ghost" owner, as before; stages only warn
    assert lines[1:5] == [
        "warning: pipeline.stages[1]: no stored deal entered 'demo' (did you mean 'Demo'?)",
        "warning: pipeline.stages[3]: no stored deal entered 'Contract [signed]'",
        # Negotiation: one deal won and one lost there, so not a won/lost stage
        "warning: pipeline.stages: 'Demo' is not listed but 3 deals entered it (last on "
        "2026-10-07): the stage conversion counts them only up to the listed stages they "
        "passed",
        "warning: pipeline.stages: 'Negotiation' is not listed but 2 deals entered it (last "
        "on 2026-10-09): the stage conversion counts them only up to the listed stages they "
        "passed",
    ]
    assert lines[5] == (
        "not listed, taken as won/lost stages (every deal that entered them ended there, "
        "closed, all won or all lost): 'closedwon' (1 won)"
    )
    assert "map to no person" in lines[6]


def test_a_list_that_covers_every_open_stage_is_ok(
    session: Session,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _deals(session)
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    path = _config_with(tmp_path, ["Qualified", "Demo", "Proposal", "Negotiation"])
    _, lines = _run(["check-config", "--crm", str(path)], capsys)
    assert not any("warning" in line for line in lines)
    assert lines[2] == (
        "ok pipeline.stages: 4 stages; every open stage the stored deals entered is listed"
    )
    # without --crm the database is not read
    code, lines = _run(["check-config", str(path)], capsys)
    assert code == 0 and len(lines) == 1 and lines[0].startswith("ok ")


def test_no_stage_history_yet_says_so(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    path = _config_with(tmp_path, ["Qualified"])
    code, lines = _run(["check-config", "--crm", str(path)], capsys)
    assert code == 0
    assert lines[1] == (
        "warning: pipeline.stages: no stored deal has a stage history to check the list "
        "against (run `drumbeat sync`)"
    )


def test_an_unreachable_database_is_said_once_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", f"postgresql://u@127.0.0.1:1/db?password={SECRET}")
    path = _config_with(tmp_path, ["Qualified"])
    code, lines = _run(["check-config", "--crm", str(path)], capsys)
    assert code == 1
    assert len(lines) == 2  # the ok line and one database line: not one per check
    assert "127.0.0.1:1" in lines[1] and SECRET not in "\n".join(lines)
