"""Long polling keeps each update in the database until handled, and a start handles what is left
(``bot.polling``)."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from sqlalchemy import text

from bot import polling
from bot.polling import InboxDispatcher
from sandbox.client import SimUser
from tests.handlers.conftest import Shop
from tests.handlers.test_checkout_orders import checkout_to_summary, fill_cart, order_rows


def test_the_polling_loop_replaces_aiograms_at_a_seam_that_still_fits() -> None:
    """aiogram's ``Dispatcher._polling`` is replaced; if aiogram changes what it calls or what it passes,
    this fails rather than the bot silently polling aiogram's way (confirming before keeping)."""
    ours = inspect.signature(InboxDispatcher._polling).parameters
    theirs = inspect.signature(Dispatcher._polling).parameters
    assert list(ours) == list(theirs)
    assert "_polling" in InboxDispatcher.__dict__
    process = inspect.signature(Dispatcher._process_update).parameters
    assert list(process)[:3] == ["self", "bot", "update"]
    assert isinstance(Dispatcher()._handle_update_tasks, set)
    start = inspect.getsource(Dispatcher.start_polling)
    assert "self._polling(" in start and "tasks_concurrency_limit=" in start


async def pending(shop: Shop) -> int:
    return int((await shop.client.stats())["pending_updates"][str(shop.bot.id)])


async def in_inbox(shop: Shop) -> list[int]:
    async with shop.uow() as uow:
        return [Update.model_validate_json(p).update_id for p in await uow.updates.left_in_inbox(shop.bot.id)]


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(100):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not so after 5 s: {what}")


@pytest.mark.allow_bot_errors
async def test_an_update_is_kept_until_handled_and_confirmed_once_kept(shop: Shop) -> None:
    ann = await shop.started()
    await shop.client.add_fault("slow", method="sendMessage", chat_id=ann.id, delay=3)
    await ann.send("/help")

    async def answering() -> bool:
        calls = await shop.client.calls("sendMessage")
        return any(c["params"].get("chat_id") == ann.id for c in calls[-3:])

    await until(answering, "the bot answers /help (slowly)")
    # Its handler is running: Telegram was told it was received (a poll went by), and the database has it.
    await until(lambda: pending_is(shop, 0), "the update is confirmed to Telegram")
    assert await in_inbox(shop)  # a crash now: the next start handles it (and /start, if not deleted yet)
    await ann.wait_for(text="How to order")
    await until(lambda: inbox_is_empty(shop), "the handled update leaves the inbox")


async def pending_is(shop: Shop, count: int) -> bool:
    return await pending(shop) == count


async def inbox_is_empty(shop: Shop) -> bool:
    return not await in_inbox(shop)


@pytest.mark.allow_bot_errors
async def test_a_slow_update_does_not_hold_back_the_others(shop: Shop) -> None:
    ann, bob = await shop.started("Ann"), await shop.started("Bob")
    await shop.client.add_fault("slow", method="sendMessage", chat_id=ann.id, delay=4)
    await ann.send("/help")
    await bob.send("/help")
    await bob.wait_for(text="How to order")
    assert not [m for m in await ann.messages() if "How to order" in (m.get("text") or "")]
    await ann.wait_for(text="How to order")


@pytest.mark.allow_bot_errors  # the stopped process's last poll is cut short by the new one's (409)
async def test_a_start_handles_what_a_stopped_process_left_in_the_inbox(shop: Shop) -> None:
    ann = await shop.started()
    await shop.dp.stop_polling()
    await shop.polling  # stopped, as if it had died after keeping this update and before handling it
    left = {
        "update_id": 900_000,
        "message": {
            "message_id": 900_000,
            "date": 1_800_000_000,
            "chat": {"id": ann.id, "type": "private", "first_name": "Ann"},
            "from": {"id": ann.id, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    async with shop.uow() as uow:
        await uow.begin_write()
        assert await uow.updates.keep(shop.bot.id, [(900_000, json.dumps(left))]) == {900_000}
        await uow.commit()
    start(shop)
    await ann.wait_for(text="How to order")
    await until(lambda: inbox_is_empty(shop), "the update leaves the inbox once handled")
    async with shop.uow() as uow:
        assert await uow.updates.handled(shop.bot.id, 900_000)


def start(shop: Shop, **options: Any) -> None:
    """Start polling again (the fixture's stops at the end of the test)."""
    started = shop.dp.start_polling(shop.bot, handle_signals=False, polling_timeout=1, **options)
    shop.polling = asyncio.create_task(started)


async def inbox_has(shop: Shop, count: int) -> bool:
    return len(await in_inbox(shop)) >= count


async def answers(user: SimUser) -> int:
    return len([m for m in await user.bot_messages() if "How to order" in (m.get("text") or "")])


@pytest.mark.allow_bot_errors
async def test_a_stop_with_updates_waiting_for_a_slot_keeps_them_for_the_next_start(shop: Shop) -> None:
    customers = [await shop.started(f"C{i}") for i in range(8)]
    await shop.dp.stop_polling()
    await shop.polling
    for customer in customers:  # they arrive together: the next poll takes all eight
        await customer.send("/help")
    await shop.client.add_fault("slow", method="sendMessage", delay=1, times=100)
    started = shop.dp.start_polling(
        shop.bot, handle_signals=False, polling_timeout=1, tasks_concurrency_limit=2
    )
    shop.polling = asyncio.create_task(started)  # UPDATES_AT_ONCE=2
    await until(lambda: inbox_has(shop, 8), "the eight updates are kept")
    await asyncio.sleep(0.3)  # two are being handled, six wait for a slot
    await shop.dp.stop_polling()  # a graceful stop (SIGTERM)
    await shop.polling
    answered = [await answers(c) for c in customers]
    assert sum(answered) < 8 and len(await in_inbox(shop)) == 8 - sum(answered)  # kept, not confirmed away
    await shop.client.clear_faults()
    start(shop)
    for customer in customers:
        await customer.wait_for(text="How to order")
    await until(lambda: inbox_is_empty(shop), "all handled")
    assert [await answers(c) for c in customers] == [1] * 8  # each once


@pytest.mark.allow_bot_errors
async def test_an_update_whose_handler_failed_is_kept_and_tried_again(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails while "Place order" is handled (a full disk, a lock held too long, PostgreSQL
    restarting): the customer hears of a problem, and the press is kept and tried again, not lost."""
    monkeypatch.setattr(polling, "RETRY_AFTER", (1.0, 60.0), raising=False)
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    await checkout_to_summary(ann, delivery=False, notes=None)
    async with shop.uow() as u:
        await u.begin_write()
        for statement in FAILING_ORDERS[u.updates.dialect]:
            await u.session.execute(text(statement))
        await u.commit()
    await ann.press("✅ Place order")
    await ann.wait_for(text="something went wrong")
    assert len(await in_inbox(shop)) == 1  # held for another try
    async with shop.uow() as u:
        await u.begin_write()
        await u.session.execute(
            text("DROP TRIGGER fail_orders" + (" ON orders" if u.updates.dialect == "postgresql" else ""))
        )
        await u.commit()
    await ann.wait_for(text="is placed")  # the second try
    await until(lambda: inbox_is_empty(shop), "handled and deleted")
    assert len(await order_rows(shop, ann)) == 1


FAILING_ORDERS = {  # the next order's INSERT fails as a database error would
    "sqlite": [
        "CREATE TRIGGER fail_orders BEFORE INSERT ON orders BEGIN SELECT * FROM no_such_table; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION fail_orders() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$",
        "CREATE TRIGGER fail_orders BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION fail_orders()",
    ],
}
