"""Process settings: secrets, URLs and paths, read from the environment.

The org config file (people, teams, metrics, rhythms, alerts) is separate and lives in
`drumbeat.toml`; see `rhythms.config`. Every secret is a `SecretStr`, so printing a
`Settings` or logging it shows `**********`, never the token. A bad value is reported by
`settings_problems` as the variable and what it expects, never the value itself: a token
pasted into the wrong variable must not reach a terminal or a log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from metrics.config import CRM_SOURCES, CrmSource
from metrics.store import database_url_problem

SLACK_API_URL = "https://slack.com/api/"
SLACK_API_URL_EXPECTED = f"must be an http(s) URL such as {SLACK_API_URL} (or unset it)"
ENV_FILE = ".env"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything the process reads from its environment (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        "sqlite:///./drumbeat.db", validation_alias=_env("DRUMBEAT_DATABASE_URL")
    )
    config_path: Path = Field(Path("./drumbeat.toml"), validation_alias=_env("DRUMBEAT_CONFIG"))
    log_level: LogLevel = Field("INFO", validation_alias=_env("DRUMBEAT_LOG_LEVEL"))
    public_url: str | None = Field(None, validation_alias=_env("DRUMBEAT_PUBLIC_URL"))
    port: int = Field(3000, ge=1, le=65535, validation_alias=_env("DRUMBEAT_PORT", "PORT"))
    crm_source: CrmSource | None = Field(
        None,
        validation_alias=_env("DRUMBEAT_CRM_SOURCE"),
        description="No default: the demo CRM's made-up numbers must never reach real people",
    )
    sync_minutes: int = Field(
        15,
        ge=0,
        le=24 * 60,
        validation_alias=_env("DRUMBEAT_SYNC_MINUTES"),
        description="How often `drumbeat run` pulls the CRM (0: never; use `drumbeat sync`)",
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field(SLACK_API_URL, validation_alias=_env("SLACK_API_URL"))

    hubspot_token: SecretStr | None = Field(None, validation_alias=_env("HUBSPOT_TOKEN"))
    hubspot_api_url: str = Field("https://api.hubapi.com", validation_alias=_env("HUBSPOT_API_URL"))

    salesforce_instance_url: str | None = Field(
        None, validation_alias=_env("SALESFORCE_INSTANCE_URL")
    )
    salesforce_token_url: str = Field(
        "https://login.salesforce.com/services/oauth2/token",
        validation_alias=_env("SALESFORCE_TOKEN_URL"),
    )
    salesforce_client_id: str | None = Field(None, validation_alias=_env("SALESFORCE_CLIENT_ID"))
    salesforce_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("SALESFORCE_CLIENT_SECRET")
    )
    salesforce_refresh_token: SecretStr | None = Field(
        None, validation_alias=_env("SALESFORCE_REFRESH_TOKEN")
    )
    salesforce_api_version: str = Field("v61.0", validation_alias=_env("SALESFORCE_API_VERSION"))

    pipedrive_token: SecretStr | None = Field(None, validation_alias=_env("PIPEDRIVE_TOKEN"))
    pipedrive_api_url: str = Field(
        "https://api.pipedrive.com", validation_alias=_env("PIPEDRIVE_API_URL")
    )

    csv_dir: Path | None = Field(None, validation_alias=_env("DRUMBEAT_CSV_DIR"))

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlsplit(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(SLACK_API_URL_EXPECTED)
        return value.strip()

    @field_validator("crm_source", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


EXPECTED = {
    "port": "must be a whole number from 1 to 65535",
    "sync_minutes": "must be a whole number from 0 to 1440 (0: no scheduled sync)",
    "crm_source": f"must be one of {', '.join(CRM_SOURCES)}",
    "log_level": f"must be one of {', '.join(LOG_LEVELS)}",
    "slack_api_url": SLACK_API_URL_EXPECTED,
}


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per bad setting, ``VARIABLE: what it expects``, without the value."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        field = next((f for f in Settings.model_fields if name in (f, *_variables(f))), name)
        if field in EXPECTED:
            expected = EXPECTED[field]
        elif error["type"] == "value_error":
            expected = str(error["ctx"]["error"])
        else:
            expected = error["msg"]
        lines.append(f"{' / '.join(_variables(field))}: {expected}")
    return lines


def setting_source(field: str) -> str:
    """Where a setting comes from, for messages about its value (never the value itself):
    ``env HUBSPOT_TOKEN`` (the environment or `.env`)."""
    return f"env {' / '.join(_variables(field))}"


def _variables(field: str) -> list[str]:
    """The environment variables a field is read from (the name itself for anything else)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [field]


def secret_value(secret: SecretStr | None) -> str | None:
    """The plain value of an optional secret, for handing to a client (never to a log)."""
    return secret.get_secret_value() if secret is not None else None
