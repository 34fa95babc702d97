"""Scheduled rules: unpaid orders (remind, then expire with stock back), abandoned carts, the staff digest.

Every job is safe to run twice or late: what it queues carries a dedupe key.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storage.models import Order
from storage.uow import UnitOfWork

from .config import ShopConfig
from .crm import PURCHASED
from .notifications import notify_customer, notify_staff
from .orders import OrderStatus, queue, still_to_collect, transition
from .reports import money_in


async def remind_unpaid(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """One reminder per unpaid order once it is ``unpaid_reminder_after`` old (the dedupe key keeps one);
    none for an order whose receipt or payment staff have yet to check: the customer has done their part."""
    await uow.begin_write()
    queued = 0
    unpaid = await uow.orders.unpaid_before(now - config.unpaid_reminder_after)
    with_staff = await _with_staff(uow, unpaid)
    for order in unpaid:
        if now - order.created_at >= config.unpaid_expire_after or order.id in with_staff:
            continue  # expiring instead, or waiting for staff
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
    """Orders unpaid for ``unpaid_expire_after`` become expired; their stock returns; the customer is told.

    Never one with a receipt or a payment (pending, or verified short of the total): the customer may
    have paid, and only staff can tell. Staff are reminded of it instead, once per order. The orders
    are held while this runs, so a payment or a receipt for one either comes first, and is seen here,
    or waits and then finds the order expired."""
    await uow.begin_write()
    overdue = await uow.orders.unpaid_before(now - config.unpaid_expire_after, lock=True)
    with_staff = await _with_staff(uow, overdue)
    expired = 0
    for order in overdue:
        if order.id in with_staff:
            await notify_staff(
                uow,
                config,
                kind="unpaid_reminder",
                template="staff.payment_to_check",
                key=f"order:{order.id}:reminder:staff",
                about_customer_id=order.customer_id,
                number=order.id,
                total_minor=order.total_minor,
                paid_minor=await uow.payments.verified_total(order.id),
                receipt=order.receipt_file_id is not None,
            )
            continue
        await transition(uow, order, OrderStatus.expired, "system", "unpaid for too long", config=config)
        expired += 1
    await uow.commit()
    return expired


async def _with_staff(uow: UnitOfWork, orders: list[Order]) -> set[int]:
    """Of these unpaid orders, those waiting for staff: a receipt came in, or a payment (pending, or
    verified short of the total)."""
    with_money = await uow.payments.orders_with_money_in([order.id for order in orders])
    return {order.id for order in orders if order.receipt_file_id is not None or order.id in with_money}


DIGEST_GRACE = timedelta(hours=1)  # a digest is sent at DIGEST_TIME, or this long after (a restart)
CART_LOOKBACK = timedelta(days=7)  # after a long downtime, carts older than this are not worth a reminder


async def remind_carts(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """One reminder per cart state: a cart untouched for ``cart_reminder_after`` (opted-in customers)."""
    await uow.begin_write()
    queued = 0
    until = now - config.cart_reminder_after
    for cart, customer in await uow.carts.untouched_between(until - CART_LOOKBACK, until):
        lines = [item for item in cart.items if item.product.active]
        if not lines:
            continue
        queued += await notify_customer(
            uow,
            customer,
            config,
            kind="cart_reminder",
            template="notify.cart_reminder",
            key=f"cart:{cart.id}:reminder:{cart.updated_at.isoformat()}",
            urgent=False,
            items=sum(item.quantity for item in lines),
            total_minor=sum(item.quantity * item.product.price_minor for item in lines),
        )
    await uow.commit()
    return queued


def _digest_day(local: datetime, at: time) -> date | None:
    """The day whose digest is due at ``local`` (shop time): from ``at`` to ``DIGEST_GRACE`` after it."""
    for day in (local.date(), local.date() - timedelta(days=1)):  # 23:30's grace runs past midnight
        due = datetime.combine(day, at, local.tzinfo)
        if due <= local < due + DIGEST_GRACE:
            return day
    return None


async def daily_digest(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """At ``digest_time`` shop time (or within ``DIGEST_GRACE`` after it, when the bot was down), once a
    day: yesterday's revenue and orders, and what waits for staff."""
    if config.digest_time is None or not config.staff_recipients:
        return 0
    zone = ZoneInfo(config.timezone)
    local = now.astimezone(zone)
    day = _digest_day(local, config.digest_time)
    if day is None:
        return 0  # not its time: a digest missed while the bot was down is not sent in the night
    key = f"digest:{day.isoformat()}"
    if await uow.outbox.by_key(f"{key}:to:{config.staff_recipients[0]}") is not None:
        return 0  # already queued today
    start = datetime.combine(day - timedelta(days=1), time.min, zone)
    end = start + timedelta(days=1)
    money = await money_in(uow, start, zone, until=end)  # as /report counts it
    orders = [o for o in await uow.orders.placed_since(start) if o.created_at < end and o.status in PURCHASED]
    waiting = await queue(uow, 0, 10)
    context: dict[str, Any] = {
        "day": start.date().isoformat(),
        "revenue_minor": money.revenue_minor,
        "orders": len(orders),
        "pending_payments": await uow.payments.pending_count(),
        "waiting": waiting.total,
        "to_collect_minor": await still_to_collect(uow),
        "oldest_waiting": [o.id for o in waiting.orders],
        "low_stock": [
            {"sku": p.sku, "name": p.name, "stock": p.stock}
            for p in await uow.catalog.low_stock(config.low_stock, 15)
        ],
    }
    await uow.begin_write()
    queued = await notify_staff(uow, config, kind="digest", template="staff.digest", key=key, **context)
    await uow.commit()
    return queued
