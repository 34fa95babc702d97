"""Tables. Money is integer minor units; times are aware UTC; Telegram ids are BIGINT."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Points are a count that grows with money: 64-bit, like money. SQLite's INTEGER already is 64-bit; its
# tables keep the type they were made with (renaming it would copy ``orders`` for nothing).
POINTS = BigInteger().with_variant(Integer(), "sqlite")
# A catalog text's translations, language → field → text (``shop.translations``); NULL when none.
Translations = dict[str, dict[str, str]]
# JSONB on PostgreSQL: plain json has no equality, so a DISTINCT over these rows would fail.
TRANSLATIONS = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; orderbot stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, int: Integer}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Customer(Timestamps, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    last_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))  # the customer's own choice, if any
    customer_type: Mapped[str] = mapped_column(String(16), default="regular")
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    cart_reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    blocked_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    addresses: Mapped[list[Address]] = relationship(back_populates="customer", order_by="Address.id")


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="addresses")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    translations: Mapped[Translations | None] = mapped_column(TRANSLATIONS)  # {"ru": {"name": ...}}


class Product(Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str | None] = mapped_column(String(100), index=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(default=0)
    photo: Mapped[str | None] = mapped_column(String(500))  # a URL or a path under the media folder
    photo_file_id: Mapped[str | None] = mapped_column(String(200))  # Telegram's id once uploaded
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"ru": {"name": ..., "description": ...}}: shown by ``shop.translations.localized``
    translations: Mapped[Translations | None] = mapped_column(TRANSLATIONS)
    # lower-cased name, brand, sku, description and their translations
    search_text: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category | None] = relationship()


class Cart(Base):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", order_by="CartItem.id", cascade="all, delete-orphan"
    )


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("cart_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    price_seen_minor: Mapped[int] = mapped_column(BigInteger)  # what the customer saw, to tell of changes

    cart: Mapped[Cart] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class CheckoutDraft(Base):
    """A checkout in progress: kept in the database so a restart loses nothing."""

    __tablename__ = "checkout_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(36), unique=True)
    fulfilment: Mapped[str | None] = mapped_column(String(16))
    address_text: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    payment_method: Mapped[str | None] = mapped_column(String(16))
    use_points: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Order(Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(24), index=True)
    fulfilment: Mapped[str] = mapped_column(String(16))
    address_text: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    payment_method: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    delivery_fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    points_used: Mapped[int] = mapped_column(POINTS, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(16), unique=True)  # the payment reference code
    checkout_token: Mapped[str] = mapped_column(String(36), unique=True)  # one order per checkout
    receipt_file_id: Mapped[str | None] = mapped_column(String(200))
    receipt_at: Mapped[datetime | None]
    pickup_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    customer: Mapped[Customer] = relationship()

    @property
    def number(self) -> int:
        return self.id


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[Translations | None] = mapped_column(TRANSLATIONS)  # the product's names, as sold
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="items")

    @property
    def line_total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


class OrderEvent(Base):
    """The audit trail: every status change, who made it and why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))  # "customer:12", "staff:34", "system"
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update changes nothing."""

    __tablename__ = "processed_updates"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxUpdate(Base):
    """Updates taken from Telegram by long polling and not yet finished (``bot.polling``): kept before
    Telegram is told they were received, deleted once handled; a start handles those left by a crash."""

    __tablename__ = "update_inbox"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)  # the update as Telegram sent it (JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(Base):
    """Shop staff added by an owner. Owners themselves come from ADMIN_IDS."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role: Mapped[str] = mapped_column(String(16), default="staff")  # "owner" | "staff"
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))  # transfer | pos | cash | mobile_money | telegram | stars
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)  # a bank or POS reference, once
    proof_file_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(16), default="pending", index=True
    )  # pending|verified|rejected|refunded
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(BigInteger)  # telegram id of staff, or 0 for Telegram Payments
    verified_by: Mapped[int | None] = mapped_column(BigInteger)
    telegram_charge_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship()


class CustomerNote(Base):
    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), default="personal")  # personal|preference|issue|feedback
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


PENDING = "status = 'pending'"
ON_ITS_WAY = "(leased_until IS NOT NULL OR last_error IS NOT NULL)"  # leased, or refused before


class OutboxMessage(Base):
    """A message the shop owes someone, written in the transaction of the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Only the rows a claim reads (``storage.repositories._claimable``), so a broadcast's thousands of
        # waiting rows and the history of sent ones cost it nothing: the pending rows by due time (the
        # claim's order), the pending rows of a chat, and those on their way. With every index partial on
        # the same condition, SQLite (no statistics) picks by the other terms: the chat index when the
        # claim asks about chats, not a scan of every pending row through the time index.
        Index(
            "ix_outbox_pending_due",
            "due_at",
            "id",
            sqlite_where=text(PENDING),
            postgresql_where=text(PENDING),
        ),
        Index(
            "ix_outbox_pending_chat",
            "chat_id",
            "id",
            sqlite_where=text(PENDING),
            postgresql_where=text(PENDING),
        ),
        Index(
            "ix_outbox_busy_chat",
            "chat_id",
            sqlite_where=text(f"{PENDING} AND {ON_ITS_WAY}"),
            postgresql_where=text(f"{PENDING} AND {ON_ITS_WAY}"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # what it is about, e.g. "order_status"
    chat_id: Mapped[int] = mapped_column(BigInteger)
    template: Mapped[str] = mapped_column(String(64))  # "notify.status" → templates/notify.j2 macro status
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8), default="en")
    photo: Mapped[str | None] = mapped_column(String(200))  # a Telegram file id to send with the text
    # A message of the chat to edit into this one (a confirmation in place of the question it answers):
    # delivered twice, it still shows once. Sent as a new message if that one is gone.
    edit_message_id: Mapped[int | None] = mapped_column(BigInteger)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|unreachable
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    # Whose personal data it carries (a message to them, or a staff alert about their order): erased
    # with the rest when they ask to be forgotten (``shop.customers.forget_customer``).
    about_customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Claimed by a worker, which sends it (or records why not) before then; a dead worker's rows are
    # claimable again after it. While it runs, the chat's newer rows wait (``OutboxRepository.due``).
    leased_until: Mapped[datetime | None]


class LoyaltyAccount(Base):
    """A customer's points now: the balance (always the ledger's sum) and lifetime points (the tier's basis).

    Its row is also the lock that makes ledger writes for one customer take turns. The balance is below
    zero when points an order earned were taken back after they were spent.
    """

    __tablename__ = "loyalty_accounts"
    __table_args__ = (CheckConstraint("lifetime >= 0", name="lifetime_not_negative"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    balance: Mapped[int] = mapped_column(POINTS, default=0)
    lifetime: Mapped[int] = mapped_column(POINTS, default=0)
    # When the soonest points held expire, or earlier: the expiry job looks for customers by it.
    next_expiry: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LoyaltyEntry(Base):
    """The points ledger: every change with the balance after it; the balance is the sum of the points."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (Index("ix_loyalty_ledger_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # earned | redeemed | expired | adjusted | reversed
    points: Mapped[int] = mapped_column(POINTS)  # signed: credits are positive, debits negative
    balance_after: Mapped[int] = mapped_column(POINTS)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]  # credits only: when what is left of them expires


class Broadcast(Base):
    """A message staff sent to many customers; its rows in the outbox carry its id."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(200))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recipients: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int] = mapped_column(BigInteger)
    progress_chat_id: Mapped[int] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_text: Mapped[str | None] = mapped_column(Text)  # what the progress message says now
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class JobTick(Base):
    """One row per scheduled job and tick: the worker that inserted it runs that tick, no other."""

    __tablename__ = "job_ticks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tick: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    worker: Mapped[str] = mapped_column(String(128))
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
