"""CLI start-up: a bad setting stops every command with one line per problem (exit 2), the
database URL is never shown with a secret, a database host that never answers fails every
command within the connect timeout, and `run` checks the CRM settings, the database and the
Slack token before it serves."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.cli import main
from bot.cli import run as run_command
from bot.cli.common import safe_reason
from bot.cli.preflight import crm_problem, slack_auth_problem
from bot.db import upgrade
from bot.settings import Settings
from metrics.clock import SystemClock
from rhythms.config import load_org_config
from tests.bot.slack_env import TOKEN, sandbox
from tests.conftest import EXAMPLE_CONFIG

SECRET = "secretpw"
# Nothing listens on port 1: connecting fails at once with "connection refused".
UNREACHABLE = f"postgresql://u@127.0.0.1:1/db?password={SECRET}"
PREFIXES = ("DRUMBEAT_", "SLACK_", "HUBSPOT_", "SALESFORCE_", "PIPEDRIVE_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No `.env` and no Drumbeat variable from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(PREFIXES) or name == "PORT":
            monkeypatch.delenv(name)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and everything printed (argparse errors exit by SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


COMMANDS = [
    ["check-config", str(EXAMPLE_CONFIG)],
    ["check-config", "--crm", str(EXAMPLE_CONFIG)],
    ["sync"],
    ["rollups", "rebuild"],
    ["run"],
    ["demo"],
    ["preview", "daily_scoreboard"],
    ["metric", "calls", "--org"],
    ["export", "maple", "--week", "2026-W47"],
    ["alerts", "log"],
    ["migrate"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_every_command_refuses_a_bad_setting_without_echoing_it(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_SYNC_MINUTES", "xoxb-pasted-into-the-wrong-variable")
    code, output = run_cli(argv, capsys)
    assert code == 2
    assert output.strip() == (
        "DRUMBEAT_SYNC_MINUTES: must be a whole number from 0 to 1440 (0: no scheduled sync)"
    )


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("DRUMBEAT_SYNC_MINUTES", "-5", "DRUMBEAT_SYNC_MINUTES: must be a whole number from 0"),
        ("DRUMBEAT_PORT", "abc", "DRUMBEAT_PORT / PORT: must be a whole number from 1 to 65535"),
        ("PORT", "99999", "DRUMBEAT_PORT / PORT: must be a whole number from 1 to 65535"),
        ("DRUMBEAT_PORT", "-1", "DRUMBEAT_PORT / PORT: must be a whole number from 1 to 65535"),
        ("DRUMBEAT_CRM_SOURCE", "unknown", "DRUMBEAT_CRM_SOURCE: must be one of demo, csv,"),
        ("DRUMBEAT_LOG_LEVEL", "loud", "DRUMBEAT_LOG_LEVEL: must be one of DEBUG, INFO,"),
        (
            "DRUMBEAT_DATABASE_URL",
            "postgresql://u:secret@pw@127.0.0.1:1/db",
            "DRUMBEAT_DATABASE_URL: the password holds an unescaped '@': percent-encode it as "
            "%40 (postgresql://u:***@127.0.0.1:1/db)",
        ),
        ("DRUMBEAT_DATABASE_URL", "not a url", "DRUMBEAT_DATABASE_URL: not a database URL"),
        (
            "DRUMBEAT_DATABASE_URL",
            "postgresql://u:p@nohost:notaport/db",
            "DRUMBEAT_DATABASE_URL: the port must be a number "
            "(postgresql://u:***@nohost:notaport/db)",
        ),
        (
            "DRUMBEAT_DATABASE_URL",
            "mysql://u:p@h/db",
            "DRUMBEAT_DATABASE_URL: unsupported database 'mysql' (mysql://u:***@h/db)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "sync", "migrate"])
def test_bad_settings_stop_start_up_with_one_line(
    command: str,
    name: str,
    value: str,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    code, output = run_cli([command], capsys)
    assert code == 2
    assert output.startswith(line) and len(output.strip().splitlines()) == 1
    assert "secret" not in output


def test_a_dotenv_file_that_is_not_utf8_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_bytes(b"SLACK_BOT_TOKEN=xoxb-\xff-secret\n")
    assert run_cli(["check-config", str(EXAMPLE_CONFIG)], capsys) == (
        2,
        ".env: not UTF-8 text; save it as UTF-8\n",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--port", "99999"],
        ["demo", "--port", "-1"],
        ["run", "--port", "65536"],
        ["run", "--database-url", "postgresql://u:secret@pw@127.0.0.1:1/db"],
        ["migrate", "--database-url", "mysql://u:secret@h/db"],
        ["sync", "--database-url", "postgresql://u:secret@nohost:notaport/db"],
    ],
)
def test_bad_ports_and_database_urls_on_the_command_line_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_cli(argv, capsys)
    assert code == 2
    assert f"argument {argv[1]}: " in output and "secret" not in output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def set_up_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `run` needs before it looks at the database: an org config, a CRM source, the
    Slack settings and a free port."""
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "demo")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s" * 32)
    monkeypatch.setenv("DRUMBEAT_PORT", str(free_port()))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """The settings `run` would have served with (it returns 0 instead of serving), on a
    migrated SQLite store (`run` refuses a schema behind the code)."""
    set_up_to_run(monkeypatch)
    url = f"sqlite:///{tmp_path / 'served.db'}"
    upgrade(url)
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", url)
    calls: list[Settings] = []

    async def serve(settings: Settings, *_: object) -> int:
        calls.append(settings)
        return 0

    monkeypatch.setattr(run_command, "_serve", serve)
    return calls


def test_run_refuses_to_start_without_the_crm_token_when_it_syncs(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "hubspot")
    assert run_cli(["run"], capsys) == (
        2,
        "cannot start: cannot sync hubspot every 15 min: set HUBSPOT_TOKEN (a private app "
        "access token) (or set DRUMBEAT_SYNC_MINUTES=0)\n",
    )
    assert served == []
    monkeypatch.setenv("DRUMBEAT_SYNC_MINUTES", "0")
    assert run_cli(["run"], capsys)[0] == 0
    assert [s.crm_source for s in served] == ["hubspot"]


def test_the_crm_settings_are_not_needed_when_run_does_not_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = load_org_config(EXAMPLE_CONFIG)
    now = SystemClock().now()
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "pipedrive")
    assert crm_problem(Settings(), org, now) == (
        "cannot sync pipedrive every 15 min: set PIPEDRIVE_TOKEN (an API token) "
        "(or set DRUMBEAT_SYNC_MINUTES=0)"
    )
    monkeypatch.setenv("DRUMBEAT_SYNC_MINUTES", "0")
    assert crm_problem(Settings(), org, now) is None
    assert crm_problem(Settings(sync_minutes=15), None, now) is None  # no org: no sync


def test_run_exits_1_when_the_database_cannot_be_reached(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", UNREACHABLE)
    code, output = run_cli(["run"], capsys)
    assert code == 1
    # the driver's first line says why, not only the exception's class
    assert output.startswith(
        "cannot reach postgresql://u@127.0.0.1:1/db?password=***: OperationalError: "
    )
    assert "Connection refused" in output and SECRET not in output
    assert output.count("\n") == 1
    assert served == []


def test_database_problem_reason_hides_a_password_the_driver_quotes() -> None:
    url = "postgresql://drumbeat:hunter2pw@db.internal:5432/drumbeat"
    driver = Exception(
        'connection to "postgresql://drumbeat:hunter2pw@db.internal/drumbeat" failed: '
        "password authentication failed (password=hunter2pw)\nDETAIL: second line"
    )
    error = OperationalError("SELECT 1", {}, driver)
    reason = safe_reason(error, url)
    assert "hunter2pw" not in reason and "second line" not in reason
    assert reason.startswith('connection to "postgresql://drumbeat:***@db.internal/drumbeat"')
    assert "password authentication failed (password=***" in reason


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["sync"], "cannot reach postgresql://u@127.0.0.1:1/db?password=***"),
        (["migrate"], "cannot reach postgresql://u@127.0.0.1:1/db?password=***"),
        (
            ["check-config", "--crm", str(EXAMPLE_CONFIG)],
            "cannot reach postgresql://u@127.0.0.1:1/db?password=***",
        ),
    ],
)
def test_database_errors_hide_the_query_password(
    argv: list[str], shown: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", "demo")
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", UNREACHABLE)
    code, output = run_cli(argv, capsys)
    assert code == 1
    assert shown in output and SECRET not in output


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A PostgreSQL URL (password in the query) whose host takes the TCP connection and
    never answers the startup packet, as behind a firewall that swallows it: only the
    connect timeout (2 s, the least psycopg waits) ends an attempt."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)  # the kernel completes the handshakes; nothing ever replies
        port = server.getsockname()[1]
        yield f"postgresql://u@127.0.0.1:{port}/db?password={SECRET}&connect_timeout=2"


DATABASE_COMMANDS = [
    ["run"],
    ["migrate"],
    ["sync"],
    ["rollups", "rebuild"],
    ["check-config", "--crm"],
    ["preview", "daily_scoreboard"],
    ["metric", "calls", "--org"],
    ["export", "maple", "--week", "2026-W47"],
    ["alerts", "log"],
    ["deliveries", "retry"],
]


@pytest.mark.parametrize("argv", DATABASE_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_database_host_that_never_answers_fails_every_command_naming_it(
    argv: list[str],
    silent_database: str,
    served: list[Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", silent_database)
    code, output = run_cli(argv, capsys)
    assert code == 1
    shown = silent_database.replace(SECRET, "***")
    assert f"cannot reach {shown}: OperationalError: connection timeout expired\n" in output
    assert SECRET not in output and "Traceback" not in output
    assert served == []


@pytest.mark.parametrize(
    ("env", "argv", "level"),
    [
        ({}, ["check-config"], logging.INFO),
        ({"DRUMBEAT_LOG_LEVEL": "warning"}, ["check-config"], logging.WARNING),
        ({"DRUMBEAT_LOG_LEVEL": "ERROR"}, ["-v", "check-config"], logging.DEBUG),
    ],
)
def test_log_level_comes_from_the_settings_and_v_raises_it_to_debug(
    env: dict[str, str],
    argv: list[str],
    level: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    logging.getLogger().setLevel(logging.CRITICAL)
    assert run_cli([*argv, str(EXAMPLE_CONFIG)], capsys)[0] == 0
    assert logging.getLogger().level == level


def test_run_refuses_to_start_when_slack_refuses_the_bot_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`run` asks Slack (`auth.test`) before serving: a token Slack refuses stops it with
    exit 2 and one line naming the error, never the token."""
    wrong = "xoxb-wrong-canary-token"
    set_up_to_run(monkeypatch)
    url = f"sqlite:///{tmp_path / 'run.db'}"
    upgrade(url)  # a store `run` accepts, so Slack's answer is what stops it
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", url)
    with sandbox() as sb:
        monkeypatch.setenv("SLACK_API_URL", sb.api_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", wrong)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "s" * 32)
        monkeypatch.setenv("DRUMBEAT_SYNC_MINUTES", "0")
        code, output = run_cli(["run", "--port", "0"], capsys)
    assert code == 2
    assert "cannot start: Slack refuses SLACK_BOT_TOKEN (invalid_auth)" in output
    assert wrong not in output


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-canary\n-rest"}, "the Slack bot token (env SLACK_BOT_TOKEN)"),
        (
            {"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-canary\u00a0rest"},
            "the Slack app token (env SLACK_APP_TOKEN)",
        ),
    ],
)
def test_run_names_the_variable_of_a_malformed_slack_token(
    env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token no HTTP header can carry (a bad copy) is refused before `auth.test`, which
    could not even be sent (the bot would start and fail every send)."""
    with sandbox() as sb:
        monkeypatch.setenv("SLACK_API_URL", sb.api_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        problem = asyncio.run(slack_auth_problem(Settings()))
    assert problem == f"{named} contains a space, control or non-ASCII character; copy it again"
    assert "canary" not in problem
