"""Paying inside Telegram: the pre-checkout answer and the successful payment (the invoice goes out
with the order's confirmation, through the outbox: ``shop.checkout.place_order``)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message, PreCheckoutQuery

from shop import telegram_payments
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.uow import UnitOfWork

from ..answers import plain
from ..render import Texts

router = Router(name="telegram_pay")


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, t: Texts, uow: UnitOfWork, config: ShopConfig) -> None:
    """Answer within Telegram's 10 seconds: yes only for the payer's unpaid order at the right amount."""
    try:
        await telegram_payments.check_pre_checkout(
            uow, query.from_user.id, query.invoice_payload, query.currency, query.total_amount, config
        )
    except DomainError as error:
        await query.answer(
            ok=False, error_message=plain(t("errors.error", code=error.code, params=error.params), 255)
        )
        return
    await query.answer(ok=True)


@router.message(F.successful_payment)
async def successful_payment(message: Message, uow: UnitOfWork, config: ShopConfig) -> None:
    """Recorded once per charge. No reply of its own: what the customer hears ("we received your
    payment", then the points it earned) is queued with the payment, in the order it happened, so a
    crash or Telegram away after it loses nothing; a copy of this update changes nothing."""
    payment = message.successful_payment
    assert payment is not None and message.from_user is not None
    await telegram_payments.record_telegram_payment(
        uow,
        message.from_user.id,
        payment.invoice_payload,
        payment.currency,
        payment.total_amount,
        payment.telegram_payment_charge_id,
        config,
    )
