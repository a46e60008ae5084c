"""Start-up checks a first-time admin meets: `run` and `sync` need the CRM source named and
refuse to mix one CRM's records into a store holding another's; `run` needs its org config,
lists every missing Slack setting before any network call and names a busy port (so does
`demo`, before it seeds); `migrate --downgrade` needs a revision."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import run as run_command
from bot.http import start_http
from bot.settings import Settings
from metrics.models import Activity, CrmUser
from metrics.store import make_engine, make_session_factory
from tests.bot.slack_env import TOKEN, sandbox
from tests.bot.test_cli_startup import clean_env, run_cli, set_up_to_run
from tests.conftest import EXAMPLE_CONFIG

__all__ = ["clean_env"]  # autouse: no variable from the machine running the tests


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `run` would have served with (it returns 0 instead of serving)."""
    calls: list[Settings] = []

    async def serve(settings: Settings, *_: object) -> int:
        calls.append(settings)
        return 0

    monkeypatch.setattr(run_command, "_serve", serve)
    return calls


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on (all interfaces, as `python -m http.server`)."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


NO_SOURCE = (
    "no CRM source: set DRUMBEAT_CRM_SOURCE{} to the CRM your numbers come from, one of "
    "demo, csv, hubspot, salesforce, pipedrive (demo is made-up data, for trying Drumbeat out)"
)


# -- 1. the CRM source is never a default, and one store holds one CRM -------------------
def test_run_with_an_org_config_needs_the_crm_source_named(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up_to_run(monkeypatch)
    monkeypatch.delenv("DRUMBEAT_CRM_SOURCE")
    monkeypatch.setenv("DRUMBEAT_SYNC_MINUTES", "0")  # `/drumbeat resync` would still pull
    assert run_cli(["run"], capsys) == (2, f"cannot start: {NO_SOURCE.format('')}\n")
    assert served == []


def test_sync_needs_the_crm_source_named(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    code, output = run_cli(["sync", "--config", str(EXAMPLE_CONFIG)], capsys)
    assert (code, output) == (2, f"cannot sync: {NO_SOURCE.format(' or pass --source')}\n")
    assert stored(db_url) == set()


def hubspot_records(db_url: str) -> None:
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session, session.begin():
        session.add(CrmUser(source="hubspot", external_id="1", email="rep0@example.com"))
    engine.dispose()


def stored(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        sources = set(connection.scalars(select(Activity.source).distinct()))
    engine.dispose()
    return sources


def test_sync_refuses_to_mix_a_second_crm_into_the_store_unless_added_on_purpose(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hubspot_records(db_url)
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    argv = ["sync", "--source", "demo", "--config", str(EXAMPLE_CONFIG)]
    code, output = run_cli(argv, capsys)
    assert code == 2
    assert output.startswith("cannot sync: the store at ") and output.count("\n") == 1
    assert "holds hubspot CRM records, not demo" in output
    assert "Set DRUMBEAT_CRM_SOURCE=hubspot, or start over on an empty database" in output
    assert "drumbeat sync --source demo --add-source" in output
    assert stored(db_url) == set()  # nothing of the demo's written
    assert run_cli([*argv, "--add-source"], capsys)[0] == 0  # a CRM migration, on purpose
    assert stored(db_url) == {"demo"}
    assert run_cli(argv, capsys)[0] == 0  # both are in the store now: the next syncs run


def test_run_refuses_a_store_holding_another_crms_records(
    db_url: str,
    served: list[Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hubspot_records(db_url)
    set_up_to_run(monkeypatch)  # DRUMBEAT_CRM_SOURCE=demo
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    code, output = run_cli(["run"], capsys)
    assert code == 2 and served == []
    assert output.startswith("cannot start: the store at ")
    assert "holds hubspot CRM records, not demo" in output
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "hubspot")
    monkeypatch.setenv("DRUMBEAT_SYNC_MINUTES", "0")
    assert run_cli(["run"], capsys)[0] == 0 and len(served) == 1


def test_run_refuses_a_database_whose_schema_is_behind_the_code(
    tmp_path: Path,
    served: list[Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unmigrated store is exit 1 saying to migrate (it used to serve, healthy, while
    every send failed on a missing table)."""
    set_up_to_run(monkeypatch)
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    code, output = run_cli(["run"], capsys)
    assert code == 1 and served == []
    assert "database schema at none (no Drumbeat tables), this version needs" in output
    assert output.rstrip().endswith("run `drumbeat migrate`")


# -- 2. no org config, no bot ------------------------------------------------------------
def test_run_without_its_org_config_exits_2_naming_the_path(
    served: list[Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_up_to_run(monkeypatch)
    missing = tmp_path / "config" / "drumbeat.tolm"
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(missing))
    code, output = run_cli(["run"], capsys)
    assert code == 2 and served == []
    assert f"{missing}: 1 problem(s)" in output and "file not found" in output
    monkeypatch.delenv("DRUMBEAT_CONFIG")  # nor ./drumbeat.toml, the default
    code, output = run_cli(["run"], capsys)
    assert code == 2 and "drumbeat.toml: 1 problem(s)" in output and served == []


# -- 3. every missing Slack setting at once, before any network call --------------------
def test_run_lists_every_missing_slack_setting_before_calling_slack(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up_to_run(monkeypatch)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    with sandbox() as sb:
        monkeypatch.setenv("SLACK_API_URL", sb.api_url)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unclosed session is a ResourceWarning
            code, output = run_cli(["run"], capsys)
            gc.collect()
        assert sb.calls == []
    assert code == 2 and served == []
    assert output.splitlines() == [
        "cannot start: SLACK_BOT_TOKEN is not set: the app's Bot User OAuth Token (xoxb-…), "
        "from OAuth & Permissions",
        "cannot start: SLACK_SIGNING_SECRET is not set: the app's Signing Secret, from Basic "
        "Information (HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)",
    ]


def test_run_lists_a_malformed_token_with_the_other_problems(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up_to_run(monkeypatch)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-canary rest")
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    code, output = run_cli(["run"], capsys)
    assert code == 2 and served == [] and "canary" not in output
    assert [line.split(":")[1].strip() for line in output.splitlines()] == [
        "SLACK_SIGNING_SECRET is not set",
        "the Slack bot token (env SLACK_BOT_TOKEN) contains a space, control or non-ASCII "
        "character; copy it again",
    ]


@pytest.mark.parametrize("value", ["", "slack.com/api/", "ftp://slack.com/api/"])
def test_a_slack_api_url_that_is_not_http_is_a_bad_setting(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_API_URL", value)
    assert run_cli(["run"], capsys) == (
        2,
        "SLACK_API_URL: must be an http(s) URL such as https://slack.com/api/ (or unset it)\n",
    )


# -- 4. a busy port is one line, and `demo` finds out before it seeds ---------------------
def test_run_names_a_busy_port_and_how_to_choose_another(
    busy_port: int,
    served: list[Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_up_to_run(monkeypatch)
    code, output = run_cli(["run", "--port", str(busy_port)], capsys)
    assert (code, output) == (
        2,
        f"cannot start: port {busy_port} on 0.0.0.0 is already in use: stop what holds it or "
        "choose another with --port N (--port 0: any free port)\n",
    )
    assert served == []


def test_run_against_the_sandbox_names_a_busy_port(
    busy_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up_to_run(monkeypatch)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):  # --sandbox brings its own
        monkeypatch.delenv(name)
    code, output = run_cli(["run", "--sandbox", "--port", str(busy_port)], capsys)
    assert code == 2 and output.count("\n") == 1
    assert f"port {busy_port} on 0.0.0.0 is already in use" in output


def test_demo_checks_its_port_before_seeding(
    busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--people", "2", "--months", "1", "--port", str(busy_port)]
    code, output = run_cli([*argv, "--host", "0.0.0.0"], capsys)
    assert (code, output) == (
        2,
        f"cannot start the demo: port {busy_port} on 0.0.0.0 is already in use: stop what "
        "holds it or choose another with --port N (--port 0: any free port)\n",
    )
    assert list(tmp_path.iterdir()) == []  # no database seeded, no config written


def test_start_http_on_a_port_taken_meanwhile_raises_a_named_error(busy_port: int) -> None:
    """Taken between the check and the bind: `PortInUseError` with the same line."""

    async def scenario() -> str:
        from slack_bolt.async_app import AsyncApp

        from bot.http import PortInUseError

        app = AsyncApp(token=TOKEN, signing_secret="s")
        with pytest.raises(PortInUseError) as raised:
            await start_http(app, host="0.0.0.0", port=busy_port)
        return str(raised.value)

    assert asyncio.run(scenario()).startswith(f"port {busy_port} on 0.0.0.0 is already in use")


# -- 5. migrate --downgrade ---------------------------------------------------------------
def test_migrate_downgrade_needs_a_revision_and_says_when_the_schema_is_empty(
    empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--database-url", empty_db_url]
    assert run_cli(["migrate", *url], capsys)[0] == 0
    assert run_cli(["migrate", "--downgrade", *url], capsys) == (
        2,
        "--downgrade needs --revision: 'base' to drop every table, or the revision to go back to\n",
    )
    code, output = run_cli(["migrate", "--downgrade", "--revision", "base", *url], capsys)
    assert code == 0 and output.startswith("schema empty (no revision) on ")
