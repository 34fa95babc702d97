"""Long polling confirms an update to Telegram only once it has been handled (``bot.polling``)."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from bot.polling import ConfirmingDispatcher, Intake
from tests.handlers.conftest import Shop


def updates(*ids: int) -> list[Update]:
    return [Update(update_id=i) for i in ids]


def test_the_offset_stays_at_the_oldest_update_being_handled() -> None:
    intake = Intake()
    assert intake.offset is None  # nothing taken: Telegram's own idea of what is confirmed
    assert [u.update_id for u in intake.take(updates(10, 11, 12))] == [10, 11, 12]
    assert intake.offset == 10
    intake.finish(11)
    intake.finish(12)
    assert intake.offset == 10  # 10 is still being handled: 11 and 12 are not confirmed either
    assert intake.take(updates(10, 11, 12, 13)) == updates(13)  # sent again meanwhile: only 13 is new
    intake.finish(10)
    assert intake.offset == 13
    intake.finish(13)
    assert intake.offset == 14
    # A poll sent while 10 was running answers late, with updates done since: none is taken again.
    assert intake.take(updates(10, 11, 12, 13)) == []
    assert intake.offset == 14


def test_the_polling_loop_replaces_aiograms_at_a_seam_that_still_fits() -> None:
    """aiogram's ``Dispatcher._polling`` is replaced; if aiogram changes what it calls or what it passes,
    this fails rather than the bot silently polling aiogram's way (confirming before handling)."""
    ours = inspect.signature(ConfirmingDispatcher._polling).parameters
    theirs = inspect.signature(Dispatcher._polling).parameters
    assert list(ours) == list(theirs)
    assert "_polling" in ConfirmingDispatcher.__dict__
    process = inspect.signature(Dispatcher._process_update).parameters
    assert list(process)[:3] == ["self", "bot", "update"]
    assert isinstance(Dispatcher()._handle_update_tasks, set)
    start = inspect.getsource(Dispatcher.start_polling)
    assert "self._polling(" in start and "tasks_concurrency_limit=" in start


async def pending(shop: Shop) -> int:
    return int((await shop.client.stats())["pending_updates"][str(shop.bot.id)])


@pytest.mark.allow_bot_errors
async def test_an_update_is_confirmed_only_after_it_was_handled(shop: Shop) -> None:
    ann = await shop.started()
    await shop.client.add_fault("slow", method="sendMessage", chat_id=ann.id, delay=3)
    await ann.send("/help")
    for _ in range(20):  # the bot has taken it and is answering, slowly
        calls = await shop.client.calls("sendMessage")
        if any(c["params"].get("chat_id") == ann.id for c in calls[-3:]):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # a poll or two went by meanwhile
    assert await pending(shop) == 1  # not confirmed while its handler runs: a crash now would not lose it
    await ann.wait_for(text="How to order")
    for _ in range(50):
        if await pending(shop) == 0:
            break
        await asyncio.sleep(0.1)
    assert await pending(shop) == 0
