"""Broadcasts: one message from staff to an audience of opted-in, reachable customers, via the outbox.

Audiences: ``all`` (everyone opted in), ``type-vip`` (a customer type), ``tier-gold`` (a loyalty tier),
``recent-30`` (bought in the last 30 days). The broadcast and every recipient's outbox row are written
in one transaction; the sender delivers them within Telegram's limits, and a scheduled job keeps the
staff member's progress message up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.models import Broadcast, Customer, Order, OutboxMessage, utcnow
from storage.uow import UnitOfWork

from . import loyalty
from .config import ShopConfig
from .crm import CUSTOMER_TYPES, PURCHASED
from .errors import DomainError

MAX_TEXT = 4000  # a text message (Telegram: 4096)
MAX_CAPTION = 1000  # a photo's caption (Telegram: 1024)
RECENT_DAYS = (7, 30, 90)


class EmptyBroadcast(DomainError):
    code = "empty_broadcast"


class NoRecipients(DomainError):
    code = "no_recipients"


class BroadcastGone(DomainError):
    code = "broadcast_gone"


def check_message(text: str | None, photo: str | None) -> str:
    cleaned = (text or "").strip()
    limit = MAX_CAPTION if photo else MAX_TEXT
    if (not cleaned and not photo) or len(cleaned) > limit:
        raise EmptyBroadcast(max=limit)
    return cleaned


def audiences(config: ShopConfig) -> list[str]:
    """Every audience staff can choose, in the order the buttons show them."""
    tiers = [f"tier-{tier.name}" for tier in config.tiers] if config.loyalty_enabled else []
    return (
        ["all"]
        + [f"recent-{days}" for days in RECENT_DAYS]
        + [f"type-{kind}" for kind in CUSTOMER_TYPES]
        + tiers
    )


async def recipients(uow: UnitOfWork, audience: str, config: ShopConfig, now: datetime) -> list[Customer]:
    """Opted-in, reachable customers in the audience (unknown audiences match nobody)."""
    if audience not in audiences(config):
        raise BroadcastGone()
    kind, _, value = audience.partition("-")
    statement = select(Customer).where(
        Customer.marketing_opt_in.is_(True),
        Customer.blocked_at.is_(None),
        Customer.deleted_at.is_(None),
        Customer.telegram_id > 0,
    )
    if kind == "type":
        statement = statement.where(Customer.customer_type == value)
    elif kind == "recent":
        bought = select(Order.customer_id).where(
            Order.status.in_(sorted(PURCHASED)), Order.created_at >= now - timedelta(days=int(value))
        )
        statement = statement.where(Customer.id.in_(bought))
    members = list(await uow.session.scalars(statement.order_by(Customer.id)))
    if kind == "tier":
        points = await uow.loyalty.lifetime([c.id for c in members])
        members = [c for c in members if loyalty.tier_for(points.get(c.id, 0), config).name == value]
    return members


@dataclass
class Progress:
    total: int
    sent: int
    failed: int
    unreachable: int

    @property
    def pending(self) -> int:
        return self.total - self.sent - self.failed - self.unreachable

    @property
    def done(self) -> bool:
        return self.pending <= 0


async def start(
    uow: UnitOfWork,
    *,
    text: str,
    html: str | None = None,
    photo: str | None,
    audience: str,
    staff_id: int,
    chat_id: int,
    message_id: int | None,
    config: ShopConfig,
) -> Broadcast:
    """Write the broadcast and one outbox row per recipient, in one transaction. ``text`` is what the
    customers will read (its length is checked); ``html``, when given, the same with its formatting as
    Telegram HTML, escaped (sent as it is)."""
    text = check_message(text, photo)
    await uow.begin_write()
    members = await recipients(uow, audience, config, utcnow())
    if not members:
        raise NoRecipients()
    broadcast = Broadcast(
        text=text,
        photo=photo,
        audience={"audience": audience},
        recipients=len(members),
        created_by=staff_id,
        progress_chat_id=chat_id,
        progress_message_id=message_id,
    )
    uow.broadcasts.add(broadcast)
    await uow.session.flush()
    for customer in members:
        await uow.outbox.enqueue(
            OutboxMessage(
                kind="broadcast",
                chat_id=customer.telegram_id,
                template="notify.broadcast",
                context={"text": text} if html is None else {"html": html},
                language=config.language_for(customer.language, customer.telegram_language),
                photo=photo,
                broadcast_id=broadcast.id,
                dedupe_key=f"broadcast:{broadcast.id}:to:{customer.id}",
                about_customer_id=customer.id,
            )
        )
    await uow.commit()
    return broadcast


async def progress(uow: UnitOfWork, broadcast: Broadcast) -> Progress:
    counts = await uow.broadcasts.counts(broadcast.id)
    return Progress(
        total=broadcast.recipients,
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        unreachable=counts.get("unreachable", 0),
    )
