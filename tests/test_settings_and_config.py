from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, settings_problems
from rhythms.config import ConfigError, load_org_config, parse_org_config
from tests.conftest import EXAMPLE_CONFIG


def test_example_config_is_valid() -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    assert {t.key for t in cfg.teams} == {"sdr", "ae", "cs"}
    assert cfg.person("DANA.RUIZ@acme.example") is not None
    assert cfg.rhythms["daily_scoreboard"].audience.roles == ("rep",)
    assert cfg.metric("calls") is not None
    assert cfg.calendar.country == "US"


def test_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRUMBEAT_DATABASE_URL", "DRUMBEAT_CONFIG", "SLACK_BOT_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///./drumbeat.db"
    assert settings.config_path == Path("./drumbeat.toml")
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", "postgresql://x@localhost/db")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value-123")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api/")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql://x@localhost/db"
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-secret-value-123"


def test_secrets_never_printed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-very-secret")
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-very-secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with caplog.at_level(logging.INFO):
        logging.getLogger("drumbeat.test").info("settings: %s %r", settings, settings)
    rendered = caplog.text + str(settings) + repr(settings) + settings.model_dump_json()
    assert "very-secret" not in rendered


def _problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    return settings_problems(caught.value)


def test_bad_settings_name_the_variable_and_never_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problems = _problems(
        monkeypatch,
        DRUMBEAT_SYNC_MINUTES="xoxb-pasted-secret",
        PORT="99999",
        DRUMBEAT_CRM_SOURCE="unknown",
        DRUMBEAT_LOG_LEVEL="loud",
    )
    assert problems == [
        "DRUMBEAT_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "DRUMBEAT_PORT / PORT: must be a whole number from 1 to 65535",
        "DRUMBEAT_CRM_SOURCE: must be one of demo, csv, hubspot, salesforce, pipedrive",
        "DRUMBEAT_SYNC_MINUTES: must be a whole number from 0 to 1440 (0: no scheduled sync)",
    ]


@pytest.mark.parametrize("port", ["0", "-1", "65536", "abc"])
def test_port_is_a_tcp_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    assert _problems(monkeypatch, DRUMBEAT_PORT=port) == [
        "DRUMBEAT_PORT / PORT: must be a whole number from 1 to 65535"
    ]


def test_unescaped_at_in_the_database_password_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problems = _problems(
        monkeypatch, DRUMBEAT_DATABASE_URL="postgresql://u:secret@pw@127.0.0.1:1/db"
    )
    assert problems == [
        "DRUMBEAT_DATABASE_URL: the password holds an unescaped '@': percent-encode it as %40 "
        "(postgresql://u:***@127.0.0.1:1/db)"
    ]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgresql://u:secretpw@nohost:notaport/db", "the port must be a number"),
        ("not a url secretpw", "not a database URL"),
        ("mysql://u:secretpw@h/db", "unsupported database 'mysql' (mysql://u:***@h/db)"),
    ],
)
def test_malformed_database_urls_are_refused_when_settings_load(
    monkeypatch: pytest.MonkeyPatch, url: str, fragment: str
) -> None:
    (problem,) = _problems(monkeypatch, DRUMBEAT_DATABASE_URL=url)
    assert problem.startswith("DRUMBEAT_DATABASE_URL: ") and fragment in problem
    assert "secretpw" not in problem


def test_crm_source_and_log_level_ignore_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRUMBEAT_CRM_SOURCE", " HubSpot ")
    monkeypatch.setenv("DRUMBEAT_LOG_LEVEL", "warning")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.crm_source, settings.log_level) == ("hubspot", "WARNING")


def _example_data() -> dict[str, object]:
    import tomllib

    data: dict[str, object] = tomllib.loads(EXAMPLE_CONFIG.read_text())
    return data


def test_field_paths_in_errors() -> None:
    data = _example_data()
    metrics = data["metrics"]
    assert isinstance(metrics, list)
    metrics[3]["targets"]["sdr"]["daily"] = -1
    people = data["people"]
    assert isinstance(people, list)
    people[2]["timezone"] = "Mars/Olympus"
    people[4]["favourite_colour"] = "red"
    with pytest.raises(ConfigError) as info:
        parse_org_config(data)
    paths = dict(info.value.problems)
    assert paths["metrics[3].targets.sdr.daily"] == "must be >= 0.0"
    assert "unknown time zone" in paths["people[2].timezone"]
    assert paths["people[4].favourite_colour"].startswith("unknown key")


def test_cross_reference_errors() -> None:
    data = _example_data()
    people = data["people"]
    assert isinstance(people, list)
    people[5]["team"] = "sales-ninjas"
    people[6]["manager"] = "nobody@acme.example"
    alerts = data["alerts"]
    assert isinstance(alerts, list)
    alerts[0]["metric"] = "callz"
    data["rhythms"]["weekly_thing"] = {"schedule": "0 9 * * mon"}  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        parse_org_config(data)
    paths = dict(info.value.problems)
    assert paths["people[5].team"] == "unknown team 'sales-ninjas'"
    assert "nobody@acme.example" in paths["people[6].manager"]
    assert paths["alerts[0].metric"] == "unknown metric 'callz'"
    assert "rhythms.weekly_thing.kind" in paths


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [("61 9 * * *", "bad cron"), ("0 9 * *", "5 fields"), ("0 25 * * mon", "bad cron")],
)
def test_bad_cron_schedules(cron: str, fragment: str) -> None:
    data = _example_data()
    data["rhythms"]["maple"]["schedule"] = cron  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        parse_org_config(data)
    assert fragment in dict(info.value.problems)["rhythms.maple.schedule"]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_org_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[org\nname = 'x'")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_org_config(bad)
