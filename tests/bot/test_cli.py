from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot import db
from bot.cli import build_parser, main
from metrics.store import make_engine
from tests.conftest import EXAMPLE_CONFIG

COMMANDS = {"migrate", "check-config", "sync", "run", "demo", "preview", "metric", "export"}


def test_cli_surface_is_stable() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= COMMANDS  # type: ignore[arg-type]
    for name, sub_parser in sub.choices.items():  # type: ignore[union-attr]
        assert sub_parser.description, f"{name} has no --help description"


def test_migrate_creates_schema(empty_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = ScriptDirectory.from_config(db.alembic_config(empty_db_url)).get_current_head()
    assert head is not None
    assert main(["migrate", "--database-url", empty_db_url]) == 0
    assert f"schema at revision {head} on" in capsys.readouterr().out
    assert db.current_revision(empty_db_url) == head
    engine = make_engine(empty_db_url)
    assert {"people", "deliveries", "metric_daily"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_check_config_ok_and_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE_CONFIG)]) == 0
    assert "ok" in capsys.readouterr().out
    broken = tmp_path / "drumbeat.toml"
    broken.write_text(
        EXAMPLE_CONFIG.read_text().replace(
            "sdr = { daily = 2, weekly = 10, monthly = 40 }", "sdr = { daily = -2 }"
        )
    )
    assert main(["check-config", str(broken)]) == 2
    assert "metrics[3].targets.sdr.daily: must be >= 0.0" in capsys.readouterr().err


def test_console_script_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "check-config" in out and "migrate" in out


def test_check_config_warns_about_a_config_that_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Valid but probably not meant: no people at all; a team nobody is on."""
    empty = tmp_path / "empty.toml"
    empty.write_text('[org]\nname = "Acme"\n')
    assert main(["check-config", str(empty)]) == 0
    assert "warning: no people" in capsys.readouterr().out
    lonely = tmp_path / "lonely.toml"
    lonely.write_text(
        EXAMPLE_CONFIG.read_text()
        + '\n[[teams]]\nkey = "ghosts"\nname = "Ghosts"\nmanager = "maria.gonzalez@acme.example"\n'
    )
    assert main(["check-config", str(lonely)]) == 0
    out = capsys.readouterr().out
    assert "warning: team 'ghosts' has no reps" in out and "warning: team 'sdr'" not in out
