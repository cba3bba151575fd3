"""Settings from the environment and `.env` (every variable is documented in .env.example)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.messages import Channel

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PEMDA = ROOT / "sigap.example.toml"
SAMPLE_ROSTER = ROOT / "samples" / "roster_sukamakmur.csv"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PROBLEMS = {
    "int_parsing": "harus bilangan bulat",
    "int_from_float": "harus bilangan bulat",
    "float_parsing": "harus angka (pakai titik untuk desimal, mis. 0.5)",
    "greater_than": "harus lebih besar dari {gt}",
    "greater_than_equal": "paling kecil {ge}",
    "less_than": "harus lebih kecil dari {lt}",
    "less_than_equal": "paling besar {le}",
    "bool_parsing": "harus true atau false",
}


class Settings(BaseSettings):
    """Everything that differs between deployments and is not in the Pemda file."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///sigap.db", validation_alias="SIGAP_DATABASE_URL")
    pemda_file: Path = Field(Path("sigap.toml"), validation_alias="SIGAP_PEMDA_FILE")
    log_level: str = Field("INFO", validation_alias="SIGAP_LOG_LEVEL")
    log_message_texts: bool = Field(False, validation_alias="SIGAP_LOG_MESSAGE_TEXTS")
    invite_days: int = Field(7, ge=1, le=60, validation_alias="SIGAP_INVITE_DAYS")
    console_as: str = Field("", validation_alias="SIGAP_CONSOLE_AS")
    http_host: str = Field("0.0.0.0", validation_alias="SIGAP_HTTP_HOST")  # noqa: S104 (a server binds all)
    http_port: int = Field(8080, ge=0, le=65535, validation_alias="SIGAP_HTTP_PORT")
    outbox_max_attempts: int = Field(8, ge=1, le=50, validation_alias="SIGAP_OUTBOX_MAX_ATTEMPTS")
    dispatch_batch: int = Field(100, ge=1, le=5000, validation_alias="SIGAP_DISPATCH_BATCH")
    metrics_token: SecretStr | None = Field(None, validation_alias="SIGAP_METRICS_TOKEN")
    health_max_pending_seconds: float = Field(900.0, gt=0, validation_alias="SIGAP_HEALTH_MAX_PENDING_SECONDS")
    public_url: str = Field("", validation_alias="SIGAP_PUBLIC_URL")
    workers: int = Field(0, ge=0, le=64, validation_alias="SIGAP_WORKERS")

    telegram_bot_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field("https://api.telegram.org/bot", validation_alias="TELEGRAM_API_BASE_URL")
    telegram_webhook_url: str = Field("", validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_rate_global: float = Field(30.0, gt=0, validation_alias="TELEGRAM_RATE_GLOBAL")
    telegram_rate_per_chat: float = Field(1.0, gt=0, validation_alias="TELEGRAM_RATE_PER_CHAT")
    telegram_rate_per_group_minute: float = Field(20.0, gt=0, validation_alias="TELEGRAM_RATE_PER_GROUP_MINUTE")

    whatsapp_access_token: SecretStr | None = Field(None, validation_alias="WHATSAPP_ACCESS_TOKEN")
    whatsapp_phone_number_id: str = Field("", validation_alias="WHATSAPP_PHONE_NUMBER_ID")
    whatsapp_display_number: str = Field("", validation_alias="WHATSAPP_DISPLAY_NUMBER")
    whatsapp_app_secret: SecretStr | None = Field(None, validation_alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr | None = Field(None, validation_alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_api_base_url: str = Field("https://graph.facebook.com", validation_alias="WHATSAPP_API_BASE_URL")
    whatsapp_business_account_id: str = Field("", validation_alias="WHATSAPP_BUSINESS_ACCOUNT_ID")
    whatsapp_api_version: str = Field("v21.0", validation_alias="WHATSAPP_API_VERSION")
    whatsapp_rate_global: float = Field(80.0, gt=0, validation_alias="WHATSAPP_RATE_GLOBAL")
    whatsapp_pair_interval: float = Field(6.0, ge=0, validation_alias="WHATSAPP_PAIR_INTERVAL")

    inaproc_token: SecretStr | None = Field(None, validation_alias="INAPROC_TOKEN")
    inaproc_base_url: str = Field("https://data.inaproc.id", validation_alias="INAPROC_BASE_URL")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"pilih salah satu dari {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url:
            return ""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or any(c in rest for c in "/?#@ "):
            raise ValueError("tulis alamat dasar saja, mis. https://sigap.pemda.go.id (tanpa path, tanpa / di akhir)")
        return f"{scheme.lower()}://{rest}"

    def dashboard_url(self) -> str:
        """The base of the dashboard's sign-in links: `SIGAP_PUBLIC_URL`; without it, on the console (no channel
        configured), the local address `sigap run` serves the dashboard on beside the console."""
        if self.public_url:
            return self.public_url
        if not self.telegram_enabled and not self.whatsapp_enabled:
            return f"http://127.0.0.1:{self.http_port}"
        return ""

    @property
    def telegram_enabled(self) -> bool:
        """Whether a Telegram bot token is configured."""
        return self.telegram_bot_token is not None and bool(self.telegram_bot_token.get_secret_value())

    @property
    def whatsapp_enabled(self) -> bool:
        """Whether the WhatsApp Cloud API is configured."""
        return self.whatsapp_access_token is not None and bool(self.whatsapp_phone_number_id)

    @property
    def sends_on(self) -> frozenset[Channel]:
        """The chat channels configured here (`Deps.sends_on`); empty: the console only."""
        on = ((Channel.TELEGRAM, self.telegram_enabled), (Channel.WHATSAPP, self.whatsapp_enabled))
        return frozenset(channel for channel, enabled in on if enabled)

    def pemda_path(self) -> Path:
        """The Pemda file; the bundled example when the default sigap.toml does not exist."""
        if self.pemda_file == Path("sigap.toml") and not self.pemda_file.exists():
            return EXAMPLE_PEMDA
        return self.pemda_file


def describe_errors(exc: ValidationError) -> str:
    """The settings problems of `exc`, one line per variable, without the values given (they may be secrets)."""
    lines = ["Pengaturan tidak sah (variabel lingkungan atau berkas .env):"]
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "?"
        problem = _PROBLEMS.get(error["type"])
        if problem is not None:
            problem = problem.format(**error.get("ctx", {}))
        else:
            problem = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  - {name}: {problem}")
    lines.append("Perbaiki lalu jalankan lagi; setiap variabel dijelaskan di .env.example.")
    return "\n".join(lines)
