"""Payments recorded by staff (transfer, POS, cash, mobile money), verified or rejected, settling orders."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from storage.models import Order, Payment, utcnow
from storage.uow import UnitOfWork

from . import loyalty
from .config import ShopConfig
from .crm import who
from .errors import DomainError, InvalidAmount, OrderNotFound
from .limits import parse_payment
from .notifications import notify_customer, notify_person, notify_staff
from .orders import OrderStatus, announce_status, to_collect, transition
from .staff import role_of

METHODS = ("transfer", "pos", "cash", "mobile_money")
STATUSES = ("pending", "verified", "rejected", "refunded")  # refunded: Stars given back (/refund)
PAYABLE = {
    OrderStatus.pending_payment.value,
    OrderStatus.paid.value,
    OrderStatus.preparing.value,
    OrderStatus.ready.value,
    OrderStatus.out_for_delivery.value,
}


class UnknownPaymentMethod(DomainError):
    code = "unknown_payment_method"


class ReferenceUsed(DomainError):
    code = "reference_used"


class PaymentNotFound(DomainError):
    code = "payment_not_found"


class PaymentAlreadyDecided(DomainError):
    code = "payment_already_decided"


class OrderNotPayable(DomainError):
    code = "order_not_payable"


class OwnersVerify(DomainError):
    code = "owners_verify"


@dataclass
class Settlement:
    payment: Payment
    order: Order
    paid_total_minor: int
    order_became_paid: bool

    @property
    def overpaid_minor(self) -> int:
        return max(0, self.paid_total_minor - self.order.total_minor)

    @property
    def order_closed(self) -> bool:
        """Money verified for an order that takes none (cancelled, expired, refunded; or completed and
        paid in full without it): it is to be given back, or the order agreed on again with the customer.
        A completed order handed over unpaid takes the money collected at handover; beyond its total
        that money is an overpayment (``overpaid_minor``)."""
        if self.payment.status != "verified":
            return False
        if self.order.status == OrderStatus.completed:
            return self.paid_total_minor - self.payment.amount_minor >= self.order.total_minor
        return self.order.status not in PAYABLE


async def record_payment(
    uow: UnitOfWork,
    order_id: int,
    amount_text: str,
    method: str,
    reference: str | None,
    actor_id: int,
    config: ShopConfig,
    expect_due_minor: int | None = None,
) -> Settlement:
    """Record money received. An owner's record is verified at once; staff's waits for /verify.

    ``expect_due_minor``: what a one-tap button said was due when it was made; if that is no longer what
    is due (someone recorded the money meanwhile, or the button was pressed twice), nothing is recorded
    (``DueChanged``)."""
    amount = parse_payment(amount_text, config.currency)
    if amount <= 0:
        raise InvalidAmount(text=amount_text, currency=config.currency)
    method = method.lower()
    if method not in METHODS:
        raise UnknownPaymentMethod(method=method, allowed=list(METHODS))
    reference = (reference or "").strip()[:64] or None
    await uow.begin_write()
    order = await uow.orders.with_customer(order_id, lock=True)
    if order is None:
        raise OrderNotFound(number=order_id)
    if order.status not in PAYABLE:
        raise OrderNotPayable(number=order.id, status=order.status)
    if expect_due_minor is not None and (due := await to_collect(uow, order)) != expect_due_minor:
        raise DueChanged(number=order.id, due_minor=due, button_minor=expect_due_minor)
    if reference and (used := await uow.payments.by_reference(reference)):
        raise ReferenceUsed(reference=reference, payment_id=used.id, order=used.order_id)
    owner = await role_of(uow, actor_id, config) == "owner"
    payment = Payment(
        order_id=order.id,
        amount_minor=amount,
        method=method,
        reference=reference,
        proof_file_id=order.receipt_file_id if method in {"transfer", "mobile_money"} else None,
        status="verified" if owner else "pending",
        recorded_by=actor_id,
        verified_by=actor_id if owner else None,
        decided_at=utcnow() if owner else None,
    )
    uow.payments.add(payment)
    await uow.session.flush()
    settlement = await settle(uow, payment, order, actor_id, config)
    if not owner:
        await notify_staff(
            uow,
            config,
            kind="payment_recorded",
            template="staff.payment_to_verify",
            key=f"payment:{payment.id}:recorded",
            about_customer_id=order.customer_id,
            payment_id=payment.id,
            number=order.id,
            amount_minor=amount,
            method=method,
            by=(await who(uow, [actor_id])).get(actor_id, str(actor_id)),
        )
    try:
        await uow.commit()
    except IntegrityError as error:  # the same reference recorded at the same moment by someone else
        await uow.rollback()
        raise ReferenceUsed(reference=reference, payment_id=None, order=None) from error
    return settlement


class DueChanged(DomainError):
    """params: number, due_minor (now), button_minor (what the pressed button said)."""

    code = "due_changed"


async def verify_payment(uow: UnitOfWork, payment_id: int, actor_id: int, config: ShopConfig) -> Settlement:
    """An owner confirms a payment; verifying twice changes nothing."""
    if await role_of(uow, actor_id, config) != "owner":
        raise OwnersVerify()
    payment = await _pending(uow, payment_id)
    order = await uow.orders.with_customer(payment.order_id, lock=True)  # as the expiry job left it
    assert order is not None
    payment.status, payment.verified_by, payment.decided_at = "verified", actor_id, utcnow()
    settlement = await settle(uow, payment, order, actor_id, config)
    await _tell_who_recorded(uow, payment, actor_id, config)
    await uow.commit()
    return settlement


async def reject_payment(
    uow: UnitOfWork, payment_id: int, actor_id: int, reason: str | None, config: ShopConfig
) -> Payment:
    """Turn a payment down; the customer hears why and what to do."""
    if await role_of(uow, actor_id, config) != "owner":
        raise OwnersVerify()
    payment = await _pending(uow, payment_id)
    payment.status, payment.verified_by, payment.decided_at = "rejected", actor_id, utcnow()
    payment.reason = (reason or "").strip()[:500] or None
    await notify_customer(
        uow,
        payment.order.customer,
        config,
        kind="payment_rejected",
        template="notify.payment_rejected",
        key=f"payment:{payment.id}:rejected",
        number=payment.order.id,
        amount_minor=payment.amount_minor,
        reason=payment.reason,
        reference=payment.order.reference,
    )
    await _tell_who_recorded(uow, payment, actor_id, config)
    await uow.commit()
    return payment


async def _tell_who_recorded(uow: UnitOfWork, payment: Payment, actor_id: int, config: ShopConfig) -> None:
    """The employee who recorded a payment hears what the owner decided (an owner's own, nothing)."""
    if payment.recorded_by <= 0 or payment.recorded_by == actor_id or payment.recorded_by in config.admin_ids:
        return
    await notify_person(
        uow,
        config,
        payment.recorded_by,
        kind="payment_decided",
        template="staff.your_payment_decided",
        key=f"payment:{payment.id}:{payment.status}:recorder",
        payment_id=payment.id,
        number=payment.order_id,
        amount_minor=payment.amount_minor,
        status=payment.status,
        reason=payment.reason,
    )


async def _pending(uow: UnitOfWork, payment_id: int) -> Payment:
    await uow.begin_write()
    payment = await uow.payments.get(payment_id)
    if payment is None:
        raise PaymentNotFound(payment_id=payment_id)
    if payment.status != "pending":
        raise PaymentAlreadyDecided(payment_id=payment_id, status=payment.status)
    return payment


HANDED_ON = {OrderStatus.preparing, OrderStatus.ready, OrderStatus.out_for_delivery, OrderStatus.completed}


async def settle(
    uow: UnitOfWork, payment: Payment, order: Order, actor_id: int, config: ShopConfig
) -> Settlement:
    """When verified payments reach the total the order becomes paid, once. Overpayment is flagged to
    staff; so is money for an order that takes none any more (it expired or was cancelled meanwhile),
    and its customer is told the shop knows: money in is never silently kept."""
    await uow.session.flush()
    paid = await uow.payments.verified_total(order.id)
    became_paid = False
    if (
        payment.status == "verified"
        and order.status == OrderStatus.pending_payment
        and paid >= order.total_minor
    ):
        await transition(
            uow, order, OrderStatus.paid, f"staff:{actor_id}", f"payment #{payment.id}", config=config
        )
        became_paid = True
    elif (
        payment.status == "verified"
        and order.paid_at is None
        and order.status in HANDED_ON
        and paid >= order.total_minor
    ):  # paid at handover, after it was prepared: paid without moving back, points earned as ever
        order.paid_at = utcnow()
        await announce_status(uow, order, config, status=OrderStatus.paid)
        await loyalty.earn_for_order(uow, order, config)
        became_paid = True
    settlement = Settlement(payment, order, paid, became_paid)
    if settlement.order_closed:
        await _flag_closed_order(uow, payment, order, config)
    elif payment.status == "verified" and settlement.overpaid_minor:
        await notify_staff(
            uow,
            config,
            kind="overpaid",
            template="staff.overpaid",
            key=f"payment:{payment.id}:overpaid",
            about_customer_id=order.customer_id,
            number=order.id,
            overpaid_minor=settlement.overpaid_minor,
            paid_minor=paid,
            total_minor=order.total_minor,
        )
    return settlement


async def _flag_closed_order(uow: UnitOfWork, payment: Payment, order: Order, config: ShopConfig) -> None:
    """Staff hear of money for a closed order, to give back; its customer hears that they will."""
    key = f"payment:{payment.id}:closed_order"
    await notify_staff(
        uow,
        config,
        kind="payment_on_closed_order",
        template="staff.payment_on_closed_order",
        key=key,
        about_customer_id=order.customer_id,
        payment_id=payment.id,
        number=order.id,
        status=order.status,
        amount_minor=payment.amount_minor,
        method=payment.method,
    )
    customer = await uow.customers.get(order.customer_id)
    assert customer is not None
    await notify_customer(
        uow,
        customer,
        config,
        kind="payment_on_closed_order",
        template="notify.payment_on_closed_order",
        key=key,
        number=order.id,
        status=order.status,
        amount_minor=payment.amount_minor,
    )


RECENT_SHOWN = 20  # /payments: the newest, for a look
PENDING_SHOWN = 500  # /payments pending: every one an owner is to decide on, in pages


@dataclass
class PaymentList:
    payments: list[Payment]  # the newest first
    total: int  # how many there are in all


async def payments_list(uow: UnitOfWork, pending_only: bool) -> PaymentList:
    shown = await uow.payments.listing(pending_only, PENDING_SHOWN if pending_only else RECENT_SHOWN)
    total = await uow.payments.pending_count() if pending_only else await uow.payments.count()
    return PaymentList(shown, max(total, len(shown)))


async def order_payments(uow: UnitOfWork, order_id: int) -> list[Payment]:
    return await uow.payments.for_order(order_id)


async def still_due(uow: UnitOfWork, order_id: int) -> tuple[Order, int]:
    """An order and what is left to pay on it (``orders.to_collect``)."""
    order = await uow.orders.with_customer(order_id)
    if order is None:
        raise OrderNotFound(number=order_id)
    return order, await to_collect(uow, order)
