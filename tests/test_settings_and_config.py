from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import Settings
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
