"""Orders: the status machine with its audit trail, a customer's history, cancel and reorder."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.models import Order, OrderEvent, utcnow
from storage.uow import UnitOfWork

from . import loyalty
from .cart import add_to_cart
from .config import ShopConfig
from .context import about_order
from .errors import CancelNotAllowed, DomainError, IllegalTransition, NoOrderAwaitingPayment, OrderNotFound
from .notifications import notify_customer, notify_staff
from .translations import Named


class OrderStatus(StrEnum):
    pending_payment = "pending_payment"
    paid = "paid"
    preparing = "preparing"
    ready = "ready"
    out_for_delivery = "out_for_delivery"
    completed = "completed"
    cancelled = "cancelled"
    expired = "expired"
    refunded = "refunded"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    S.pending_payment: (S.paid, S.cancelled, S.expired),
    S.paid: (S.preparing, S.cancelled, S.refunded),
    S.preparing: (S.ready, S.out_for_delivery, S.cancelled, S.refunded),
    S.ready: (S.completed, S.cancelled, S.refunded),
    S.out_for_delivery: (S.completed, S.cancelled, S.refunded),
    S.completed: (S.refunded,),
    S.cancelled: (),
    S.expired: (),
    S.refunded: (),
}
RELEASES_STOCK = {S.cancelled, S.expired}
REVERSES_POINTS = {S.cancelled, S.expired, S.refunded}
CLOSED = {S.completed, S.cancelled, S.expired, S.refunded}


class PaidByPayments(DomainError):
    """params: number, paid_minor (verified so far), total_minor."""

    code = "paid_by_payments"


class MoneyToCollect(DomainError):
    """params: number, due_minor, method. The order is handed over unpaid: collect the money first."""

    code = "money_to_collect"


def starts_unpaid(status: str, payment_method: str, config: ShopConfig) -> bool:
    """An order waiting to be made, paid when the customer gets it (``ShopConfig.paid_at_handover``): it
    is prepared unpaid, and the money is recorded at handover (``MoneyToCollect``)."""
    return status == S.pending_payment and payment_method in config.paid_at_handover


def _reachable(order: Order, config: ShopConfig) -> list[OrderStatus]:
    # Pickup orders become ready; delivery orders go out for delivery.
    skip = S.out_for_delivery if order.fulfilment == "pickup" else S.ready
    options = TRANSITIONS[OrderStatus(order.status)]
    if starts_unpaid(order.status, order.payment_method, config):
        options = (S.preparing, *options)
    if order.paid_at is None:  # prepared unpaid, to be paid at handover: nothing to refund, only to cancel
        options = tuple(s for s in options if s != S.refunded)
    return [s for s in options if s != skip]


def allowed_next(order: Order, config: ShopConfig) -> list[OrderStatus]:
    """Where staff may move an order: anywhere but paid, which only verified payments adding up reach
    (``shop.payments.settle``), so nobody marks an order paid without the money on the books."""
    return [s for s in _reachable(order, config) if s != S.paid]


async def transition(
    uow: UnitOfWork,
    order: Order,
    to: OrderStatus,
    actor: str,
    reason: str | None = None,
    *,
    config: ShopConfig,
    note: str | None = None,
    tell_customer: bool = True,
) -> None:
    """Move an order on, or raise IllegalTransition naming what is allowed (PaidByPayments when it is
    to be paid and its verified payments do not reach its total). The caller commits.

    The customer is told (with staff's ``note``) before the move's effects are worked out: paid orders
    earn loyalty points, and cancelled, expired and refunded ones give back the points used and take
    back the points earned, each with messages of its own. A chat's messages go out in the order they
    were queued, so the customer hears the cause first ("paid"), then its effects (points, a new tier).
    """
    about_order(order.id)
    current = OrderStatus(order.status)
    if to not in _reachable(order, config):
        allowed = [s.value for s in allowed_next(order, config)]
        raise IllegalTransition(number=order.id, current=current.value, wanted=to.value, allowed=allowed)
    if to == S.paid and (paid := await uow.payments.verified_total(order.id)) < order.total_minor:
        raise PaidByPayments(number=order.id, paid_minor=paid, total_minor=order.total_minor)
    if to == S.completed and order.paid_at is None and (due := await to_collect(uow, order)):
        raise MoneyToCollect(number=order.id, due_minor=due, method=order.payment_method)
    order.status = to.value
    now = utcnow()
    if to == S.paid:
        order.paid_at = now
    if to in CLOSED:
        order.closed_at = now
    order.events.append(
        OrderEvent(from_status=current.value, to_status=to.value, actor=actor, reason=reason, created_at=now)
    )
    if to == S.ready and order.fulfilment == "pickup":
        order.pickup_code = await _new_pickup_code(uow)
    if tell_customer:
        await announce_status(uow, order, config, note)
    if to in RELEASES_STOCK:
        for item in order.items:
            if item.product_id is not None:
                await uow.catalog.release_stock(item.product_id, item.quantity)
    if to == S.paid:
        await loyalty.earn_for_order(uow, order, config)
    if to in RELEASES_STOCK:
        await _money_to_return(uow, order, config)
    if to in REVERSES_POINTS:
        await loyalty.reverse_for_order(uow, order, to.value, config)


async def _money_to_return(uow: UnitOfWork, order: Order, config: ShopConfig) -> None:
    """An order cancelled (or expired) with money verified on it, paid in full or in part (a deposit on an
    order paid at handover): staff hear that it is to be given back, and the customer that it will be."""
    kept = await uow.payments.verified_total(order.id)
    if not kept:
        return
    key = f"order:{order.id}:money_to_return"
    await notify_staff(
        uow,
        config,
        kind="money_to_return",
        template="staff.money_to_return",
        key=key,
        about_customer_id=order.customer_id,
        number=order.id,
        amount_minor=kept,
        status=order.status,
    )
    customer = await uow.customers.get(order.customer_id)
    if customer is not None:
        await notify_customer(
            uow,
            customer,
            config,
            kind="money_to_return",
            template="notify.money_to_return",
            key=key,
            number=order.id,
            amount_minor=kept,
        )


async def to_collect(uow: UnitOfWork, order: Order) -> int:
    """What is still to be paid on an order: its total less the payments verified or waiting for an
    owner's verification (an employee took the money)."""
    counted = sum(
        p.amount_minor for p in await uow.payments.for_order(order.id) if p.status in ("verified", "pending")
    )
    return max(order.total_minor - counted, 0)


async def still_to_collect(uow: UnitOfWork) -> int:
    """Money to take at handover on the orders now being prepared or on their way."""
    return sum([await to_collect(uow, o) for o in await uow.orders.handed_on_unpaid()])


@dataclass
class OrderPage:
    orders: list[Order]
    page: int
    pages: int


async def history(uow: UnitOfWork, customer_id: int, page: int, page_size: int) -> OrderPage:
    page = max(page, 0)
    orders, total = await uow.orders.for_customer(customer_id, page * page_size, page_size)
    return OrderPage(orders, page, max(1, -(-total // page_size)))


async def customer_order(uow: UnitOfWork, customer_id: int, order_id: int) -> Order:
    """An order of this customer's; someone else's order is 'not found', not 'forbidden'."""
    order = await uow.orders.get(order_id)
    if order is None or order.customer_id != customer_id:
        raise OrderNotFound(number=order_id)
    return order


def can_cancel(order: Order, config: ShopConfig, now: datetime | None = None) -> bool:
    return cancel_refusal(order, config, now) is None


def cancel_refusal(order: Order, config: ShopConfig, now: datetime | None = None) -> str | None:
    if order.status != S.pending_payment:
        return "closed" if order.status in CLOSED else "paid"
    if (now or utcnow()) - order.created_at > config.cancel_window:
        return "window"
    return None


async def cancel_by_customer(uow: UnitOfWork, customer_id: int, order_id: int, config: ShopConfig) -> Order:
    """Customers may cancel while unpaid and within the cancel window; the stock goes back. Once a
    receipt or a payment is on the order, money may have moved: the request goes to staff instead (the
    order is returned as it was, still awaiting payment), who cancel it and give the money back, or not."""
    await uow.begin_write()
    order = await customer_order(uow, customer_id, order_id)
    refusal = cancel_refusal(order, config)
    if refusal:
        raise CancelNotAllowed(reason=refusal, minutes=int(config.cancel_window.total_seconds() // 60))
    if order.receipt_file_id or await uow.payments.for_order(order.id):
        await notify_staff(
            uow,
            config,
            kind="cancel_request",
            template="staff.cancel_requested",
            key=f"order:{order.id}:cancel_request",
            about_customer_id=order.customer_id,
            number=order.id,
        )
        await uow.commit()
        return order
    await transition(
        uow,
        order,
        S.cancelled,
        f"customer:{customer_id}",
        "cancelled by the customer",
        config=config,
        tell_customer=False,  # they did it, and their answer says so
    )
    await notify_staff(
        uow,
        config,
        kind="order_cancelled",
        template="staff.cancelled_by_customer",
        key=f"order:{order.id}:status:cancelled",
        about_customer_id=order.customer_id,
        number=order.id,
    )
    await uow.commit()
    return order


@dataclass
class ReorderResult:
    added: list[Named] = field(default_factory=list)
    skipped: list[Named] = field(default_factory=list)


async def reorder(uow: UnitOfWork, customer_id: int, order_id: int, config: ShopConfig) -> ReorderResult:
    """Put an old order's items back in the cart at today's prices; what cannot be had is listed."""
    order = await customer_order(uow, customer_id, order_id)
    lines = [(item.product_id, item.quantity, Named(item.name, item.translations)) for item in order.items]
    result = ReorderResult()
    for product_id, quantity, name in lines:
        if product_id is None:
            result.skipped.append(name)
            continue
        try:
            await add_to_cart(uow, customer_id, product_id, quantity, config)
            result.added.append(name)
        except DomainError:
            await uow.rollback()
            result.skipped.append(name)
    return result


async def attach_receipt(uow: UnitOfWork, customer_id: int, file_id: str, config: ShopConfig) -> Order:
    """A receipt photo goes on the customer's newest unpaid order, for staff to check."""
    await uow.begin_write()
    order = await uow.orders.latest_awaiting_payment(customer_id)
    if order is None:
        raise NoOrderAwaitingPayment()
    order.receipt_file_id = file_id
    order.receipt_at = utcnow()
    customer = await uow.customers.get(customer_id)
    await notify_staff(
        uow,
        config,
        kind="receipt",
        template="staff.receipt",
        photo=file_id,
        key=f"order:{order.id}:receipt:{file_id[-24:]}",
        about_customer_id=order.customer_id,
        number=order.id,
        total_minor=order.total_minor,
        reference=order.reference,
        customer=customer.first_name if customer else "",
    )
    await uow.commit()
    return order


# --- staff side ---------------------------------------------------------------------------------------
class UnknownStatus(DomainError):
    code = "unknown_status"


class PickupNotFound(DomainError):
    code = "pickup_not_found"


class AlreadyCollected(DomainError):
    """params: number"""

    code = "already_collected"


PICKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class Queue:
    orders: list[Order]  # this page's, oldest first
    page: int
    pages: int
    total: int  # orders waiting, on every page


async def queue(uow: UnitOfWork, page: int = 0, page_size: int = 10) -> Queue:
    """A page of the orders waiting for staff (a page past the end shows the last one)."""
    page = max(page, 0)
    waiting, total = await uow.orders.needing_action(page * page_size, page_size)
    pages = max(1, -(-total // page_size))
    if page >= pages:
        return await queue(uow, pages - 1, page_size)
    return Queue(waiting, page, pages, total)


async def staff_order(uow: UnitOfWork, order_id: int) -> Order:
    order = await uow.orders.with_customer(order_id)
    if order is None:
        raise OrderNotFound(number=order_id)
    return order


def parse_status(text: str) -> OrderStatus:
    try:
        return OrderStatus(text.strip().lower())
    except ValueError as error:
        raise UnknownStatus(status=text, allowed=[s.value for s in OrderStatus]) from error


async def change_status(
    uow: UnitOfWork, order_id: int, status: OrderStatus, actor_id: int, note: str | None, config: ShopConfig
) -> Order:
    """Staff move an order on; the customer hears about it (an outbox row in the same transaction)."""
    await uow.begin_write()
    order = await staff_order(uow, order_id)
    note = (note or "").strip()[:500] or None
    await transition(uow, order, status, f"staff:{actor_id}", note, config=config, note=note)
    await uow.commit()
    return order


async def announce_status(
    uow: UnitOfWork, order: Order, config: ShopConfig, note: str | None = None, status: str | None = None
) -> bool:
    """Queue "your order is now …" (its status, or ``status``) for the customer, once per order and status:
    "we received your payment" for paid, the pickup code for a ready pickup. The caller commits."""
    status = status or order.status
    customer = await uow.customers.get(order.customer_id)
    assert customer is not None
    key = f"order:{order.id}:status:{status}"
    if status == S.paid:
        return await notify_customer(
            uow,
            customer,
            config,
            kind="order_status",
            template="notify.paid",
            key=key,
            number=order.id,
            total_minor=order.total_minor,
            handed_on=order.status != S.paid,  # paid at handover: nothing left to prepare
        )
    extra: dict[str, Any] = {}
    if status == S.ready and order.pickup_code:
        extra["pickup_code"] = order.pickup_code
    if status in (S.ready, S.out_for_delivery) and order.paid_at is None:  # paid at handover: how much
        extra["to_pay_minor"] = await to_collect(uow, order)
    return await notify_customer(
        uow,
        customer,
        config,
        kind="order_status",
        template="notify.status",
        key=key,
        number=order.id,
        status=status,
        note=(note or "").strip()[:500],
        **extra,
    )


async def _new_pickup_code(uow: UnitOfWork) -> str:
    while True:
        code = "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(6))
        if await uow.orders.by_pickup_code(code) is None:
            return code


async def complete_pickup(uow: UnitOfWork, code: str, actor_id: int, config: ShopConfig) -> Order:
    """``/pickup CODE``: the customer collects a ready, paid order."""
    await uow.begin_write()
    order = await uow.orders.by_pickup_code(code.strip().upper()[:12])
    if order is None:
        raise PickupNotFound(code=code)
    if order.status == OrderStatus.completed:
        raise AlreadyCollected(number=order.number)  # a second scan of the same code
    order_id = order.id
    return await change_status(uow, order_id, OrderStatus.completed, actor_id, "picked up", config)
