"""The one settings object, built at the entry point from the environment and passed down.

Nothing below the entry point reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from store.errors import ConfigError

SLACK_PUBLIC_API = "https://slack.com/api/"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token"))
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"))
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"))
    slack_api_url: str = Field(
        default=SLACK_PUBLIC_API,
        validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url"))
    database_url: str = Field(
        default="sqlite:///signoff.db",
        validation_alias=AliasChoices("SIGNOFF_DATABASE_URL", "database_url"))
    config_path: Path = Field(
        default=Path("signoff.yml"),
        validation_alias=AliasChoices("SIGNOFF_CONFIG", "config_path"))
    audit_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SIGNOFF_AUDIT_KEY", "audit_key"))
    test_hold_clicks: float = Field(
        default=0.0, ge=0.0, le=60.0,
        validation_alias=AliasChoices("SIGNOFF_TEST_HOLD_CLICKS", "test_hold_clicks"))
    """Test-only (crash tests): seconds each decision click waits after its ack. Never set
    it in production: it only delays decisions."""

    signoff_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SIGNOFF_URL", "signoff_url"))
    agent_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SIGNOFF_AGENT_TOKEN", "agent_token"))
    keys_passphrase: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SIGNOFF_KEYS_PASSPHRASE",
                                                    "keys_passphrase"))
    receipt_ttl_s: float = Field(
        default=300.0, gt=0, le=86_400,
        validation_alias=AliasChoices("SIGNOFF_RECEIPT_TTL", "receipt_ttl_s"))

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if value.startswith("sqlite:") and not value.startswith("sqlite:///"):
            path = value.removeprefix("sqlite:").lstrip("/") or "signoff.db"
            raise ValueError(f"{value!r} is not a SQLite URL: write sqlite:///{path} (a file in "
                             f"the working directory) or sqlite:////{path} (the absolute path "
                             f"/{path}); a SQLite URL has three slashes before the path")
        if not value.startswith(("sqlite:", "postgresql", "postgres:")):
            raise ValueError(
                "must be sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB")
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(f"{value!r} is not a database URL: write sqlite:///PATH or "
                             "postgresql+psycopg://USER@HOST:PORT/DB") from None
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @property
    def keys_passphrase_bytes(self) -> bytes | None:
        return self.keys_passphrase.get_secret_value().encode() if self.keys_passphrase else None

    @property
    def audit_key_bytes(self) -> bytes | None:
        return self.audit_key.get_secret_value().encode() if self.audit_key else None


_ENV_NAMES = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "database_url": "SIGNOFF_DATABASE_URL",
    "config_path": "SIGNOFF_CONFIG",
    "audit_key": "SIGNOFF_AUDIT_KEY",
    "signoff_url": "SIGNOFF_URL",
    "agent_token": "SIGNOFF_AGENT_TOKEN",
    "keys_passphrase": "SIGNOFF_KEYS_PASSPHRASE",
    "receipt_ttl_s": "SIGNOFF_RECEIPT_TTL",
    "test_hold_clicks": "SIGNOFF_TEST_HOLD_CLICKS",
}


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; a bad value names the variable and the fix."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else "?"
            name = _ENV_NAMES.get(loc, loc)
            lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        if len(lines) == 1:
            raise ConfigError(f"invalid environment: {lines[0]}") from None
        raise ConfigError("invalid environment:\n  " + "\n  ".join(lines)) from None
