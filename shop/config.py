"""The shop's own rules, as the owner configured them (built from settings by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal

PAYMENT_METHODS = ("transfer", "cash", "pos", "mobile_money")
# Ways of paying a shop may take when the customer gets the order (at the counter, or to the courier).
HANDOVER_METHODS = ("cash", "pos", "mobile_money")
PAID_AT_HANDOVER = ("cash", "pos")  # unless the shop says otherwise
LANGUAGES = ("en", "ru")


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int  # lifetime points from which a customer holds it
    multiplier: Decimal = Decimal(1)  # points earned are multiplied by this


DEFAULT_TIERS = (Tier("bronze", 0), Tier("silver", 200), Tier("gold", 500), Tier("platinum", 1000))


@dataclass(frozen=True)
class ShopConfig:
    name: str = "orderbot shop"
    currency: str = "USD"
    timezone: str = "UTC"
    default_language: str = "en"
    payment_methods: tuple[str, ...] = PAYMENT_METHODS
    bank_details: str = ""
    # Paid when the customer gets the order: prepared without prepayment, the money taken at handover.
    paid_at_handover: tuple[str, ...] = PAID_AT_HANDOVER
    pickup_address: str = ""
    about: str = ""  # the owner's words under the welcome (opening hours, say), as written
    delivery_fee_minor: int = 0
    cancel_window: timedelta = field(default=timedelta(minutes=30))
    page_size: int = 6
    max_address_length: int = 300
    max_notes_length: int = 500
    payment_provider_token: str = ""  # card payments inside Telegram, when set
    stars_enabled: bool = False
    stars_per_unit: int = 50  # Telegram Stars per major unit of the currency (1 USD → 50 ⭐)
    unpaid_reminder_after: timedelta = field(default=timedelta(hours=2))
    unpaid_expire_after: timedelta = field(default=timedelta(hours=24))
    quiet_hours: tuple[int, int] | None = None  # (from, to) in shop hours, e.g. (22, 8): hold non-urgent news
    cart_reminder_after: timedelta = field(default=timedelta(hours=3))
    digest_time: time | None = time(9, 0)  # the staff digest, in shop time; None: no digest
    low_stock: int = 5  # the digest lists active products with this many or fewer left
    loyalty_enabled: bool = True
    points_per_unit: Decimal = Decimal("0.1")  # points per major unit paid: 1 point per 10 units
    point_value_minor: int = 10  # what one point takes off an order, in minor units
    max_redeem_percent: int = 50  # points pay at most this share of an order
    points_expire_after: timedelta = field(default=timedelta(days=365))
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
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
