"""Settings from the environment and ``.env`` (every one documented in .env.example)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import get_currency_name
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shop.config import HANDOVER_METHODS, LANGUAGES, PAID_AT_HANDOVER, PAYMENT_METHODS, ShopConfig, Tier
from shop.limits import parse_price


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./orderbot.db"
    redis_url: str | None = None
    webhook_url: str | None = None  # the public https URL Telegram posts to (webhook mode)
    webhook_secret: SecretStr = SecretStr("")
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(8080, ge=1, le=65535)
    log_format: Literal["", "json", "text"] = ""  # empty: JSON unless on a terminal
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int | None = None
    shop_name: str = "orderbot shop"
    currency: str = "USD"
    timezone: str = "UTC"
    default_language: str = "en"
    payment_methods: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(PAYMENT_METHODS))
    bank_details: str = ""
    # Paid at the counter or to the courier, not before: e.g. cash,pos,mobile_money where couriers take it.
    paid_at_handover: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(PAID_AT_HANDOVER))
    pickup_address: str = ""
    shop_about: str = Field("", max_length=500)  # under the welcome: opening hours, what the shop is
    delivery_fee: str = "0"
    cancel_window_minutes: int = Field(30, ge=0)
    media_dir: str = "./media"
    throttle_per_second: float = Field(3.0, gt=0)
    updates_at_once: int = Field(64, ge=1)  # polling: updates handled at the same time; the rest wait
    unpaid_reminder_after_minutes: int = Field(120, ge=1)
    unpaid_expire_after_minutes: int = Field(1440, ge=1)
    quiet_hours: str = ""  # "22-08": hold reminders and news between these shop hours
    notify_per_second: float = Field(30.0, gt=0)  # the outbox's overall sending rate
    notify_chat_per_second: float = Field(1.0, gt=0)
    notify_chat_burst: int = Field(3, ge=1)
    notify_group_per_minute: float = Field(20.0, gt=0)
    notify_send_timeout: float = Field(20.0, gt=0)  # seconds; claimed messages are retried after about this
    notify_give_up_after_hours: float = Field(24.0, gt=0)  # Telegram away this long: a message is failed
    payment_provider_token: SecretStr = SecretStr("")
    stars_enabled: bool = False
    stars_per_unit: int = Field(50, ge=1)
    throttle_burst: int = Field(8, ge=1)
    cart_reminder_after_minutes: int = Field(180, ge=1)
    digest_time: str = "09:00"  # shop time; empty: no digest
    low_stock_threshold: int = Field(5, ge=0)
    loyalty_enabled: bool = True
    loyalty_points_per_unit: Decimal = Field(Decimal("0.1"), ge=0, le=1000)  # points stay 64-bit
    loyalty_point_value: int = Field(10, ge=0)  # minor units per point
    loyalty_max_redeem_percent: int = Field(50, ge=0, le=99)
    loyalty_expiry_days: int = Field(365, ge=1)
    loyalty_tiers: str = "bronze:0,silver:200,gold:500,platinum:1000"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
            wrong = [part for part in parts if not part.lstrip("-").isdecimal()]
            if wrong:
                raise ValueError(
                    f"Telegram user ids are numbers, separated by commas, like 12345678,87654321 "
                    f"(not {wrong[0]!r})"
                )
            return [int(part) for part in parts]
        return value

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if token and not re.fullmatch(r"\d+:[\w-]+", token):
            raise ValueError("not a bot token; it looks like 123456789:AAH..., as @BotFather gives it")
        return SecretStr(token)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_database_url(value)

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

    @field_validator("paid_at_handover", mode="before")
    @classmethod
    def _handover(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            value = [str(part).strip().lower() for part in value if str(part).strip()]
        unknown = set(value) - set(HANDOVER_METHODS) if isinstance(value, list) else set()
        if unknown:
            raise ValueError(
                f"{', '.join(sorted(unknown))} cannot be paid at handover; use some of "
                f"{', '.join(HANDOVER_METHODS)}, or leave it empty"
            )
        return value

    @field_validator("bank_details", "pickup_address", "shop_about")
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

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if text and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", text):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret tokens)")
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest(cls, value: str) -> str:
        text = value.strip()
        if text and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", text):
            raise ValueError("a time like 09:00 (shop time), or empty for no digest")
        return text

    @field_validator("loyalty_tiers")
    @classmethod
    def _tiers(cls, value: str) -> str:
        parse_tiers(value)
        return value

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
            paid_at_handover=tuple(self.paid_at_handover),
            pickup_address=self.pickup_address,
            about=self.shop_about.strip(),
            delivery_fee_minor=parse_price(self.delivery_fee, self.currency),
            cancel_window=timedelta(minutes=self.cancel_window_minutes),
            unpaid_reminder_after=timedelta(minutes=self.unpaid_reminder_after_minutes),
            unpaid_expire_after=timedelta(minutes=self.unpaid_expire_after_minutes),
            quiet_hours=tuple(int(h) for h in self.quiet_hours.split("-")) if self.quiet_hours else None,  # type: ignore[arg-type]
            admin_ids=tuple(self.admin_ids),
            payment_provider_token=self.payment_provider_token.get_secret_value(),
            stars_enabled=self.stars_enabled,
            stars_per_unit=self.stars_per_unit,
            staff_chat_id=self.staff_chat_id,
            cart_reminder_after=timedelta(minutes=self.cart_reminder_after_minutes),
            digest_time=time.fromisoformat(self.digest_time.zfill(5)) if self.digest_time else None,
            low_stock=self.low_stock_threshold,
            loyalty_enabled=self.loyalty_enabled,
            points_per_unit=self.loyalty_points_per_unit,
            point_value_minor=self.loyalty_point_value,
            max_redeem_percent=self.loyalty_max_redeem_percent,
            points_expire_after=timedelta(days=self.loyalty_expiry_days),
            tiers=parse_tiers(self.loyalty_tiers),
        )


def parse_tiers(text: str) -> tuple[Tier, ...]:
    """``bronze:0,silver:200,gold:500:1.25`` → tiers by threshold; the lowest must start at 0."""
    expected = "name:threshold[:multiplier], comma separated, the first at 0 (bronze:0,silver:200:1.1)"
    tiers = []
    for part in text.split(","):
        pieces = [p.strip() for p in part.split(":")]
        if len(pieces) not in (2, 3) or not re.fullmatch(r"[a-z_]{1,20}", pieces[0]):
            raise ValueError(expected)
        try:
            threshold = int(pieces[1])
            multiplier = Decimal(pieces[2]) if len(pieces) == 3 else Decimal(1)
        except (ValueError, ArithmeticError) as error:
            raise ValueError(expected) from error
        if threshold < 0 or not Decimal(0) < multiplier <= Decimal(10):
            raise ValueError(expected)
        tiers.append(Tier(pieces[0], threshold, multiplier))
    tiers.sort(key=lambda tier: tier.threshold)
    if not tiers or tiers[0].threshold != 0 or len({t.threshold for t in tiers}) != len(tiers):
        raise ValueError(expected)
    return tuple(tiers)


DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def check_database_url(value: str) -> str:
    """A database URL orderbot can use, or a ValueError saying what would be."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "like sqlite+aiosqlite:///./orderbot.db or postgresql+asyncpg://user:password@host/shop"
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL; use one {example}") from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise ValueError(f"{backend} is not supported: use SQLite or PostgreSQL, {example}")
    if url.drivername != DRIVERS[backend]:
        fixed = url.set(drivername=DRIVERS[backend]).render_as_string(hide_password=False)
        raise ValueError(f"use the async driver: {fixed}")
    if backend == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().absolute().parent
        if not folder.is_dir():
            raise ValueError(f"the folder {folder} does not exist: create it, or put the file elsewhere")
    return value


class SettingsError(SystemExit):
    """Raised at start with one line per bad setting, naming it and what it expects."""


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.shop_config()
    except ValidationError as error:
        lines = [
            f"setting {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        ]
        raise SettingsError("\n".join(lines)) from None
    except Exception as error:  # e.g. DELIVERY_FEE that is not an amount
        raise SettingsError(f"setting DELIVERY_FEE: expected an amount like 2.50 ({error})") from None
    return settings
