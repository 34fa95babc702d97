"""Paying inside Telegram: card payments through a provider, or Telegram Stars.

The invoice carries ``order:<number>``. The pre-checkout answer checks the order is the payer's, still
unpaid (so its stock is still reserved) and that currency and amount match. A successful payment is
recorded once per Telegram charge id, however often the update arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from storage.models import Order, Payment, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig
from .errors import DomainError
from .money import exponent
from .orders import OrderStatus, allowed_next, announce_status, transition
from .payments import Settlement, settle
from .staff import role_of

TELEGRAM_METHODS = ("telegram", "stars")


class PaymentNotPossible(DomainError):
    """params: reason = "unknown" | "not_yours" | "not_payable" | "amount"."""

    code = "payment_not_possible"


class RefundNotPossible(DomainError):
    code = "refund_not_possible"


@dataclass(frozen=True)
class Invoice:
    payload: str
    currency: str
    amount: int  # minor units of the currency, or Stars


def stars_for(total_minor: int, config: ShopConfig) -> int:
    """Stars for an amount: STARS_PER_UNIT per major unit of the shop's currency, rounded up."""
    scale = 10 ** exponent(config.currency)
    return max(1, -(-total_minor * config.stars_per_unit // scale))


def invoice_for(order: Order, config: ShopConfig) -> Invoice:
    if order.payment_method == "stars":
        return Invoice(f"order:{order.id}", "XTR", stars_for(order.total_minor, config))
    return Invoice(f"order:{order.id}", config.currency, order.total_minor)


async def _order_for(uow: UnitOfWork, telegram_id: int, payload: str, *, lock: bool = False) -> Order:
    number = payload.removeprefix("order:")
    if not payload.startswith("order:") or not number.isdecimal():
        raise PaymentNotPossible(reason="unknown")
    order = await uow.orders.with_customer(int(number), lock=lock)
    if order is None:
        raise PaymentNotPossible(reason="unknown")
    if order.customer.telegram_id != telegram_id:
        raise PaymentNotPossible(reason="not_yours")
    return order


async def check_pre_checkout(
    uow: UnitOfWork, telegram_id: int, payload: str, currency: str, amount: int, config: ShopConfig
) -> Order:
    """Everything Telegram must hear before it charges: raises PaymentNotPossible when it must not."""
    order = await _order_for(uow, telegram_id, payload)
    if order.status != OrderStatus.pending_payment or order.payment_method not in TELEGRAM_METHODS:
        raise PaymentNotPossible(reason="not_payable", number=order.id)
    expected = invoice_for(order, config)
    if (currency, amount) != (expected.currency, expected.amount):
        raise PaymentNotPossible(reason="amount", number=order.id)
    return order


async def record_telegram_payment(
    uow: UnitOfWork,
    telegram_id: int,
    payload: str,
    currency: str,
    amount: int,
    charge_id: str,
    config: ShopConfig,
) -> Settlement | None:
    """Record a successful payment once; None when this charge was recorded before."""
    await uow.begin_write()
    if await uow.payments.by_charge(charge_id) is not None:
        return None
    order = await _order_for(uow, telegram_id, payload, lock=True)
    # The money is in: it is recorded even if the order changed meanwhile (expired, cancelled, paid
    # otherwise), and settling it flags it to staff to give back.
    method = "stars" if currency == "XTR" else "telegram"
    amount_minor = order.total_minor if method == "stars" else amount
    payment = Payment(
        order_id=order.id,
        amount_minor=max(amount_minor, 1),
        method=method,
        status="verified",
        recorded_by=0,
        verified_by=0,
        decided_at=utcnow(),
        telegram_charge_id=charge_id,
        reason=f"{amount} XTR" if method == "stars" else None,
    )
    uow.payments.add(payment)
    try:
        settlement = await settle(uow, payment, order, 0, config)
        await uow.commit()
    except IntegrityError:  # the same charge, recorded a moment ago by another worker
        await uow.rollback()
        return None
    return settlement


async def stars_refund_target(
    uow: UnitOfWork, order_id: int, actor_id: int, config: ShopConfig
) -> tuple[int, str]:
    """Who to refund and which charge, for an order paid with Stars (owners only)."""
    if await role_of(uow, actor_id, config) != "owner":
        raise RefundNotPossible(reason="owners")
    order = await uow.orders.with_customer(order_id)
    if order is None:
        raise RefundNotPossible(reason="unknown", number=order_id)
    paid = [
        p for p in await uow.payments.for_order(order.id) if p.method == "stars" and p.status == "verified"
    ]
    if not paid or not paid[-1].telegram_charge_id:
        raise RefundNotPossible(reason="no_stars", number=order.id)
    return order.customer.telegram_id, paid[-1].telegram_charge_id


async def mark_refunded(
    uow: UnitOfWork, order_id: int, charge_id: str, actor_id: int, config: ShopConfig
) -> Order:
    """After Telegram refunded the Stars: the payment and the order are refunded; the customer is told."""
    await uow.begin_write()
    order = await uow.orders.with_customer(order_id)
    payment = await uow.payments.by_charge(charge_id)
    assert order is not None and payment is not None
    payment.status, payment.decided_at = "refunded", utcnow()
    if OrderStatus.refunded in allowed_next(order, config):
        await transition(
            uow, order, OrderStatus.refunded, f"staff:{actor_id}", "Stars refunded", config=config
        )
    else:  # a cancelled or expired order keeps its status; the money is back, either way
        await announce_status(uow, order, config, status=OrderStatus.refunded.value)
    await uow.commit()
    return order
