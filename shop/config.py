"""The shop's own rules, as the owner configured them (built from settings by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

PAYMENT_METHODS = ("transfer", "cash", "pos", "mobile_money")
LANGUAGES = ("en", "ru")


@dataclass(frozen=True)
class ShopConfig:
    name: str = "orderbot shop"
    currency: str = "USD"
    timezone: str = "UTC"
    default_language: str = "en"
    payment_methods: tuple[str, ...] = PAYMENT_METHODS
    bank_details: str = ""
    pickup_address: str = ""
    delivery_fee_minor: int = 0
    cancel_window: timedelta = field(default=timedelta(minutes=30))
    max_quantity: int = 99
    page_size: int = 6
    max_address_length: int = 300
    max_notes_length: int = 500
    payment_provider_token: str = ""  # card payments inside Telegram, when set
    stars_enabled: bool = False
    stars_per_unit: int = 50  # Telegram Stars per major unit of the currency (1 USD → 50 ⭐)
    unpaid_reminder_after: timedelta = field(default=timedelta(hours=2))
    unpaid_expire_after: timedelta = field(default=timedelta(hours=24))
    quiet_hours: tuple[int, int] | None = None  # (from, to) in shop hours, e.g. (22, 8): hold non-urgent news
    admin_ids: tuple[int, ...] = ()  # owners
    staff_chat_id: int | None = None  # the staff group, if any

    @property
    def checkout_methods(self) -> tuple[str, ...]:
        """What checkout offers: the shop's manual methods, then paying inside Telegram if configured."""
        extra = (("telegram",) if self.payment_provider_token else ()) + (
            ("stars",) if self.stars_enabled else ()
        )
        return self.payment_methods + extra

    @property
    def staff_recipients(self) -> tuple[int, ...]:
        """Where staff alerts go: the staff group, or else each owner."""
        return (self.staff_chat_id,) if self.staff_chat_id else self.admin_ids

    def language_for(self, chosen: str | None, telegram: str | None) -> str:
        """The customer's choice, else their Telegram language, else the shop's default."""
        for candidate in (chosen, (telegram or "")[:2].lower(), self.default_language):
            if candidate in LANGUAGES:
                return candidate
        return "en"
