"""Messages the shop owes people, queued in the same transaction as the change that causes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storage.models import Customer, OutboxMessage, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig


def hold_until(moment: datetime, config: ShopConfig) -> datetime:
    """When a non-urgent message may go: now, or the end of the shop's quiet hours."""
    if not config.quiet_hours:
        return moment
    start, end = config.quiet_hours
    local = moment.astimezone(ZoneInfo(config.timezone))
    quiet = (local.hour >= start or local.hour < end) if start > end else (start <= local.hour < end)
    if not quiet:
        return moment
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(UTC)


async def notify_customer(
    uow: UnitOfWork,
    customer: Customer,
    config: ShopConfig,
    *,
    kind: str,
    template: str,
    key: str,
    photo: str | None = None,
    urgent: bool = True,
    edit_message_id: int | None = None,
    **context: Any,
) -> bool:
    """Queue a message to a customer, in their language; with ``edit_message_id``, one that replaces
    that message of theirs (shown once however often it is delivered).

    Nothing for someone who asked to be forgotten; nothing non-urgent for someone unreachable; non-urgent
    messages wait out the quiet hours.
    """
    if customer.deleted_at is not None or customer.telegram_id <= 0:
        return False
    if not urgent and customer.blocked_at is not None:
        return False
    language = config.language_for(customer.language, customer.telegram_language)
    due = utcnow() if urgent else hold_until(utcnow(), config)
    return await uow.outbox.enqueue(
        OutboxMessage(
            kind=kind,
            chat_id=customer.telegram_id,
            template=template,
            context=context,
            language=language,
            photo=photo,
            edit_message_id=edit_message_id,
            dedupe_key=key,
            due_at=due,
            about_customer_id=customer.id,
        )
    )


async def notify_staff(
    uow: UnitOfWork,
    config: ShopConfig,
    *,
    kind: str,
    template: str,
    key: str,
    about_customer_id: int | None = None,
    photo: str | None = None,
    **context: Any,
) -> int:
    """Queue a message to the staff group, or to each owner in their language; returns how many.

    ``about_customer_id``: the customer whose order it is about (it goes when they are forgotten).
    With nobody to receive it yet (no ADMIN_IDS, no STAFF_CHAT_ID), it is held (status "held", no chat)
    until there is: ``release_held``."""
    if not config.staff_recipients:
        held = OutboxMessage(
            kind=kind,
            chat_id=0,
            template=template,
            context=context,
            language=config.default_language,
            photo=photo,
            dedupe_key=key,
            about_customer_id=about_customer_id,
            status=HELD,
        )
        await uow.outbox.enqueue(held)
        return 0
    queued = 0
    for chat_id in config.staff_recipients:
        queued += await notify_person(
            uow,
            config,
            chat_id,
            kind=kind,
            template=template,
            key=f"{key}:to:{chat_id}",
            photo=photo,
            about_customer_id=about_customer_id,
            **context,
        )
    return queued


HELD = "held"  # a staff message with nobody to receive it yet


async def release_held(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """Staff messages held while the shop had no owner or staff chat, sent now that it has one (the
    scheduler tries every minute); how many were queued."""
    if not config.staff_recipients:
        return 0
    held = await uow.outbox.held()
    if not held:
        return 0
    await uow.begin_write()
    queued = 0
    for row in held:
        queued += await notify_staff(
            uow,
            config,
            kind=row.kind,
            template=row.template,
            key=row.dedupe_key,
            about_customer_id=row.about_customer_id,
            photo=row.photo,
            **row.context,
        )
        row.status = "released"
    await uow.commit()
    return queued


async def notify_person(
    uow: UnitOfWork,
    config: ShopConfig,
    telegram_id: int,
    *,
    kind: str,
    template: str,
    key: str,
    photo: str | None = None,
    about_customer_id: int | None = None,
    **context: Any,
) -> bool:
    """Queue a message to one member of staff's chat (or the staff group's), in their language."""
    message = OutboxMessage(
        kind=kind,
        chat_id=telegram_id,
        template=template,
        context=context,
        language=await language_of(uow, telegram_id, config),
        photo=photo,
        dedupe_key=key,
        about_customer_id=about_customer_id,
    )
    return await uow.outbox.enqueue(message)


async def language_of(uow: UnitOfWork, chat_id: int, config: ShopConfig) -> str:
    """A person's language (as chosen, else Telegram's); a group's is the shop's default."""
    person = await uow.customers.by_telegram_id(chat_id) if chat_id > 0 else None
    if person is None:
        return config.default_language
    return config.language_for(person.language, person.telegram_language)
