"""The record of handled updates commits with the update's effects: a crash before that commit leaves
the update to be handled again; a copy of it that commits second changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.config import ShopConfig
from shop.customers import TelegramUser, identify
from storage.models import CustomerNote, ProcessedUpdate
from storage.uow import AlreadyHandled, UnitOfWork
from tests.handlers.conftest import Shop, callback_of

CONFIG = ShopConfig(currency="USD")


async def counts(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(updates recorded, notes written): the notes stand for any update's effects."""
    async with UnitOfWork(session_factory) as uow:
        updates = await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate))
        notes = await uow.session.scalar(select(func.count()).select_from(CustomerNote))
    return int(updates or 0), int(notes or 0)


async def handle(
    session_factory: async_sessionmaker[AsyncSession], update_id: int, *, crash: bool = False
) -> None:
    """What the bot does for an update that writes: identify the sender, then one writer's commit."""
    async with UnitOfWork(session_factory) as uow:
        customer, _ = await identify(uow, TelegramUser(901, "Ann"), CONFIG)
        uow.handle((7, update_id))
        await uow.begin_write()
        uow.notes.add(CustomerNote(customer_id=customer.id, text=f"update {update_id}", author=1))
        if crash:
            raise RuntimeError("the process died here")
        await uow.commit()


async def test_an_update_that_failed_before_its_commit_is_handled_again(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(RuntimeError):
        await handle(session_factory, 1, crash=True)
    assert await counts(session_factory) == (0, 0)  # not recorded: Telegram's copy will be handled
    await handle(session_factory, 1)
    assert await counts(session_factory) == (1, 1)


async def test_a_copy_of_an_update_that_committed_changes_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await handle(session_factory, 1)
    with pytest.raises(AlreadyHandled):
        await handle(session_factory, 1)
    assert await counts(session_factory) == (1, 1)
    async with UnitOfWork(session_factory) as uow:
        assert await uow.updates.handled(7, 1)
        assert not await uow.updates.handled(7, 2)
        assert not await uow.updates.handled(8, 1)  # another bot's update 1 is another update


async def test_copies_at_once_commit_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    outcomes = await asyncio.gather(*(handle(session_factory, 5) for _ in range(5)), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyHandled"] * 4 + ["NoneType"]
    assert await counts(session_factory) == (1, 1)


async def test_reading_leaves_no_record_and_a_registration_is_not_the_updates_effect(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Registering a new customer commits before the handler runs, and is not the update's effect: a
    crash after it must still leave the update to be handled."""
    async with UnitOfWork(session_factory) as uow:
        await identify(uow, TelegramUser(902, "Bob"), CONFIG)
        uow.handle((7, 9))
        await uow.customers.by_telegram_id(902)
        await uow.commit()  # a reader's commit: nothing was written
    async with UnitOfWork(session_factory) as uow:
        assert not await uow.updates.handled(7, 9)
        assert await uow.customers.by_telegram_id(902) is not None


async def feed(shop: Shop, update: dict[str, Any]) -> None:
    from aiogram.types import Update

    await shop.dp.feed_update(shop.bot, Update.model_validate(update, context={"bot": shop.bot}))


@pytest.mark.allow_bot_errors  # the copies' press is unknown to the sandbox: too late to answer
async def test_the_same_update_fed_twice_at_once_is_handled_once(shop: Shop) -> None:
    """Telegram's copy of a press arriving while the first is handled: one order, one confirmation."""
    from tests.handlers.test_checkout_orders import checkout_to_summary, fill_cart

    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    summary = await checkout_to_summary(ann, delivery=False, notes=None)
    place = callback_of(summary, "✅ Place order")
    user = {"id": ann.id, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    chat = {"id": ann.id, "type": "private", "first_name": "Ann"}
    message = {"message_id": summary["message_id"], "date": 0, "chat": chat, "text": summary["text"]}
    update = {
        "update_id": 10**12,
        "callback_query": {
            "id": "1",
            "from": user,
            "chat_instance": "1",
            "message": {**message, "from": {"id": shop.bot.id, "is_bot": True, "first_name": "Shop"}},
            "data": place,
        },
    }
    await asyncio.gather(*(feed(shop, update) for _ in range(3)))
    await feed(shop, update)  # and once more, long after
    await ann.wait_for(text="is placed")
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        assert customer is not None
        _, count = await u.orders.for_customer(customer.id, 0, 10)
    assert count == 1
    placed = [m for m in await ann.bot_messages() if "is placed" in (m.get("text") or "")]
    assert len(placed) == 1
