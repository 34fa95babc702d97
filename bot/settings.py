"""Settings from the environment and ``.env`` (every one documented in .env.example)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import get_currency_name
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shop.config import LANGUAGES, PAYMENT_METHODS, ShopConfig
from shop.money import parse_amount


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./orderbot.db"
    redis_url: str | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int | None = None
    shop_name: str = "orderbot shop"
    currency: str = "USD"
    timezone: str = "UTC"
    default_language: str = "en"
    payment_methods: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(PAYMENT_METHODS))
    bank_details: str = ""
    pickup_address: str = ""
    delivery_fee: str = "0"
    cancel_window_minutes: int = Field(30, ge=0)
    media_dir: str = "./media"
    throttle_per_second: float = Field(3.0, gt=0)
    unpaid_reminder_after_minutes: int = Field(120, ge=1)
    unpaid_expire_after_minutes: int = Field(1440, ge=1)
    quiet_hours: str = ""  # "22-08": hold reminders and news between these shop hours
    notify_per_second: float = Field(30.0, gt=0)  # the outbox's overall sending rate
    notify_chat_per_second: float = Field(1.0, gt=0)
    notify_chat_burst: int = Field(3, ge=1)
    notify_group_per_minute: float = Field(20.0, gt=0)
    payment_provider_token: SecretStr = SecretStr("")
    stars_enabled: bool = False
    stars_per_unit: int = Field(50, ge=1)
    throttle_burst: int = Field(8, ge=1)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("payment_methods", mode="before")
    @classmethod
    def _methods(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = set(value) - set(PAYMENT_METHODS) if isinstance(value, list) else set()
        if unknown:
            raise ValueError(
                f"unknown payment methods {sorted(unknown)}; use some of {', '.join(PAYMENT_METHODS)}"
            )
        return value

    @field_validator("bank_details", "pickup_address")
    @classmethod
    def _newlines(cls, value: str) -> str:
        return value.replace("\\n", "\n")  # "\n" typed in an environment variable is a new line

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        text = value.strip()
        if text and not re.fullmatch(r"([01]?\d|2[0-3])-([01]?\d|2[0-3])", text):
            raise ValueError("two hours like 22-08 (from-to, in the shop's time zone), or empty")
        return text

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.strip().upper()
        try:
            get_currency_name(code)
        except Exception as error:
            raise ValueError("an ISO 4217 code such as USD, EUR, NGN, JPY") from error
        if len(code) != 3 or get_currency_name(code) == code:
            raise ValueError("an ISO 4217 code such as USD, EUR, NGN, JPY")
        return code

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("an IANA time zone such as Europe/London or Africa/Lagos") from error
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"one of {', '.join(LANGUAGES)}")
        return value

    def shop_config(self) -> ShopConfig:
        return ShopConfig(
            name=self.shop_name,
            currency=self.currency,
            timezone=self.timezone,
            default_language=self.default_language,
            payment_methods=tuple(self.payment_methods),
            bank_details=self.bank_details,
            pickup_address=self.pickup_address,
            delivery_fee_minor=parse_amount(self.delivery_fee, self.currency),
            cancel_window=timedelta(minutes=self.cancel_window_minutes),
            unpaid_reminder_after=timedelta(minutes=self.unpaid_reminder_after_minutes),
            unpaid_expire_after=timedelta(minutes=self.unpaid_expire_after_minutes),
            quiet_hours=tuple(int(h) for h in self.quiet_hours.split("-")) if self.quiet_hours else None,  # type: ignore[arg-type]
            admin_ids=tuple(self.admin_ids),
            payment_provider_token=self.payment_provider_token.get_secret_value(),
            stars_enabled=self.stars_enabled,
            stars_per_unit=self.stars_per_unit,
            staff_chat_id=self.staff_chat_id,
        )


class SettingsError(SystemExit):
    """Raised at start with one line per bad setting, naming it and what it expects."""


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.shop_config()
    except ValidationError as error:
        lines = [f"setting {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()]
        raise SettingsError("\n".join(lines)) from None
    except Exception as error:  # e.g. DELIVERY_FEE that is not an amount
        raise SettingsError(f"setting DELIVERY_FEE: expected an amount like 2.50 ({error})") from None
    return settings
