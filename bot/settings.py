"""Process settings: secrets, URLs and paths, read from the environment.

The org config file (people, teams, metrics, rhythms, alerts) is separate and lives in
`drumbeat.toml`; see `rhythms.config`. Every secret is a `SecretStr`, so printing a
`Settings` or logging it shows `**********`, never the token.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_URL = "https://slack.com/api/"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything the process reads from its environment (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        "sqlite:///./drumbeat.db", validation_alias=_env("DRUMBEAT_DATABASE_URL")
    )
    config_path: Path = Field(Path("./drumbeat.toml"), validation_alias=_env("DRUMBEAT_CONFIG"))
    log_level: str = Field("INFO", validation_alias=_env("DRUMBEAT_LOG_LEVEL"))
    public_url: str | None = Field(None, validation_alias=_env("DRUMBEAT_PUBLIC_URL"))
    port: int = Field(3000, validation_alias=_env("DRUMBEAT_PORT", "PORT"))
    crm_source: str = Field("demo", validation_alias=_env("DRUMBEAT_CRM_SOURCE"))
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


def secret_value(secret: SecretStr | None) -> str | None:
    """The plain value of an optional secret, for handing to a client (never to a log)."""
    return secret.get_secret_value() if secret is not None else None
