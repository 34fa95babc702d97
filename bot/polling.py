"""Long polling that confirms an update to Telegram only once it has been handled.

aiogram's polling moves ``getUpdates``' offset past each update as soon as it has taken it, before its
handler runs: a process that dies then has confirmed updates it never handled, and Telegram does not
send them again (a "Place order" press, a ``successful_payment``: lost). Here the offset stays at the
oldest update still being handled. Telegram sends the ones after it again with every poll meanwhile;
they are known by their ids (no higher than the newest taken) and skipped. A process that dies leaves
every update it had not finished unconfirmed: the next start gets them again, and the record of handled
updates (``storage.uow.UnitOfWork.handle``) drops those whose effects had committed.

The price: while one update is slow, each poll brings back the ones after it (Telegram has no way to
confirm an update but by confirming every older one), and once 100 of them are waiting behind it, new
ones wait for it too. A handler's time is bounded by its timeouts (Bot API calls, database locks).

The seam: ``ConfirmingDispatcher`` replaces aiogram's ``Dispatcher._polling`` (aiogram 3.31: its
arguments and its ``_process_update`` and ``_handle_update_tasks``; pyproject bounds aiogram below 4);
``tests/handlers/test_polling.py`` fails if they change shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

log = logging.getLogger("orderbot")
DRAIN_SECONDS = 10.0  # on a graceful stop, how long the updates being handled may take to finish
WAIT_FOR_PROGRESS = 0.5  # seconds: a poll brought only known updates; poll again after one finishes


class Intake:
    """The updates taken from Telegram: those being handled, and so the offset that confirms exactly the
    handled ones.

    Telegram hands updates out in the order of their ids, so one whose id is not above the newest taken
    has been taken before: it is being handled, or it is done. (A poll sent before an update was done
    may bring it back after: what was done is not remembered, only how far updates have been taken.)
    """

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.newest: int | None = None
        self.progress = asyncio.Event()  # set when an update is done

    @property
    def offset(self) -> int | None:
        """``getUpdates``' offset: every update below it has been handled."""
        if self.running:
            return min(self.running)
        return None if self.newest is None else self.newest + 1

    def take(self, updates: Sequence[Update]) -> list[Update]:
        """The updates not taken before, now counted as running."""
        fresh = [u for u in updates if self.newest is None or u.update_id > self.newest]
        for update in fresh:
            self.running.add(update.update_id)
        if fresh:
            self.newest = max(u.update_id for u in fresh)
        return fresh

    def finish(self, update_id: int) -> None:
        self.running.discard(update_id)
        self.progress.set()


class ConfirmingDispatcher(Dispatcher):
    """aiogram's dispatcher with a polling loop that confirms updates only once handled (``Intake``)."""

    async def _polling(  # type: ignore[override]
        self,
        bot: Bot,
        polling_timeout: int = 30,
        handle_as_tasks: bool = True,
        backoff_config: BackoffConfig | None = None,
        allowed_updates: list[str] | None = None,
        tasks_concurrency_limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        intake = Intake()
        slots = asyncio.Semaphore(tasks_concurrency_limit or 100)
        backoff = Backoff(config=backoff_config or DEFAULT_BACKOFF_CONFIG)
        timeout = (
            {"request_timeout": int(bot.session.timeout + polling_timeout)} if bot.session.timeout else {}
        )
        me = await bot.me()
        log.info("polling for @%s (id %s)", me.username, bot.id)
        try:
            this = asyncio.current_task()
            while this is None or not this.cancelling():  # a cancellation the HTTP client swallowed: stop
                poll = GetUpdates(
                    offset=intake.offset, timeout=polling_timeout, allowed_updates=allowed_updates
                )
                try:
                    updates = await bot(poll, **timeout)
                except Exception as error:  # noqa: BLE001 - Telegram unreachable: try again, and again
                    if this is not None and this.cancelling():
                        break  # stopping: aiohttp may turn a poll's cancellation into a network error
                    log.error(
                        "could not fetch updates (%s: %s); again in %.1f s",
                        type(error).__name__,
                        error,
                        backoff.next_delay,
                    )
                    await backoff.asleep()
                    continue
                backoff.reset()
                fresh = intake.take(updates)
                for update in fresh:
                    await slots.acquire()
                    task = asyncio.create_task(self._handle_and_finish(bot, update, intake, slots, kwargs))
                    self._handle_update_tasks.add(task)
                    task.add_done_callback(self._handle_update_tasks.discard)
                if updates and not fresh:  # only those being handled came back: wait for one to finish
                    intake.progress.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(intake.progress.wait(), WAIT_FOR_PROGRESS)
        finally:
            await self._confirm_on_stop(bot, intake)

    async def _handle_and_finish(
        self, bot: Bot, update: Update, intake: Intake, slots: asyncio.Semaphore, kwargs: dict[str, Any]
    ) -> None:
        try:
            await self._process_update(bot=bot, update=update, **kwargs)  # logs what a handler raised
        finally:
            slots.release()
            intake.finish(update.update_id)

    async def _confirm_on_stop(self, bot: Bot, intake: Intake) -> None:
        """Stopping: let the updates being handled finish (a while), then confirm what was handled, so a
        restart does not get it again. Whatever is still running stays unconfirmed: it comes back."""
        running = [task for task in self._handle_update_tasks if not task.done()]
        if running:
            await asyncio.wait(running, timeout=DRAIN_SECONDS)
        if intake.offset is None:
            return
        try:  # confirms every update below the offset; the one it may return stays unconfirmed
            await bot(GetUpdates(offset=intake.offset, limit=1, timeout=0), request_timeout=5)
        except Exception as error:  # noqa: BLE001 - they come back after the restart and are dropped there
            log.warning("could not confirm the last updates on stopping: %s", error)
