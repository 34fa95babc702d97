"""Paying inside Telegram: the invoice after placing, the pre-checkout answer, the successful payment."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import LabeledPrice, Message, PreCheckoutQuery

from shop import telegram_payments
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.models import Order
from storage.uow import UnitOfWork

from ..answers import plain
from ..render import Texts

router = Router(name="telegram_pay")


async def send_invoice(message: Message, order: Order, t: Texts, config: ShopConfig) -> None:
    """The order's invoice. Telegram takes one only for an amount within its limits for the currency
    (about US$1 to US$10 000, moving with exchange rates); outside them the customer hears so."""
    invoice = telegram_payments.invoice_for(order, config)
    try:
        await message.answer_invoice(
            title=t.plain("checkout.invoice_title", order=order)[:32],
            description=t.plain("checkout.invoice_description", order=order)[:255],
            payload=invoice.payload,
            currency=invoice.currency,
            prices=[LabeledPrice(label=t.label("invoice_total"), amount=invoice.amount)],
            provider_token=config.payment_provider_token if invoice.currency != "XTR" else None,
        )
    except TelegramBadRequest as error:
        if "AMOUNT" not in error.message.upper():  # CURRENCY_TOTAL_AMOUNT_INVALID
            raise
        await message.answer(t("checkout.invoice_refused", order=order))


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
    payment", then the points it earned) is queued with the payment, in the order it happened."""
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
