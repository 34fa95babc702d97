"""Messages the shop owes people, queued in the same transaction as the change that causes them."""

from __future__ import annotations

from typing import Any

from storage.models import Customer, OutboxMessage
from storage.uow import UnitOfWork

from .config import ShopConfig


async def notify_customer(
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    *,
    kind: str,
    template: str,
    key: str,
    photo: str | None = None,
    **context: Any,
) -> bool:
    """Queue a message to a customer in their language; nothing for someone who asked to be forgotten."""
    if customer.deleted_at is not None or customer.telegram_id <= 0:
        return False
    language = config.language_for(customer.language, customer.telegram_language)
    return await uow.outbox.enqueue(
        OutboxMessage(
            kind=kind,
            chat_id=customer.telegram_id,
            template=template,
            context=context,
            language=language,
            photo=photo,
            dedupe_key=key,
        )
    )


async def notify_staff(
    uow: UnitOfWork,
    config: ShopConfig,
    *,
    kind: str,
    template: str,
    key: str,
    photo: str | None = None,
    **context: Any,
) -> int:
    """Queue a message to the staff group, or to each owner; returns how many were queued."""
    queued = 0
    for chat_id in config.staff_recipients:
        message = OutboxMessage(
            kind=kind,
            chat_id=chat_id,
            template=template,
            context=context,
            language=config.default_language,
            photo=photo,
            dedupe_key=f"{key}:to:{chat_id}",
        )
        queued += await uow.outbox.enqueue(message)
    return queued
