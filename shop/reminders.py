"""Scheduled rules: remind about unpaid orders, then expire them (stock back). Safe to run twice or late."""

from __future__ import annotations

from datetime import datetime

from storage.uow import UnitOfWork

from .config import ShopConfig
from .notifications import notify_customer
from .orders import OrderStatus, announce_status, transition


async def remind_unpaid(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """One reminder per unpaid order once it is ``unpaid_reminder_after`` old (the dedupe key keeps one)."""
    await uow.begin_write()
    queued = 0
    for order in await uow.orders.unpaid_before(now - config.unpaid_reminder_after):
        if now - order.created_at >= config.unpaid_expire_after:
            continue  # expiring instead
        queued += await notify_customer(
            uow,
            order.customer,
            config,
            kind="unpaid_reminder",
            template="notify.unpaid_reminder",
            key=f"order:{order.id}:reminder:unpaid",
            urgent=False,
            number=order.id,
            total_minor=order.total_minor,
            reference=order.reference,
            payment_method=order.payment_method,
        )
    await uow.commit()
    return queued


async def expire_unpaid(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """Orders unpaid for ``unpaid_expire_after`` become expired; their stock returns; the customer is told."""
    await uow.begin_write()
    expired = await uow.orders.unpaid_before(now - config.unpaid_expire_after)
    for order in expired:
        await transition(uow, order, OrderStatus.expired, "system", "unpaid for too long", config=config)
        await announce_status(uow, order, config)
    await uow.commit()
    return len(expired)
