"""Long polling that loses no update when the process dies: each is kept in the database before
Telegram is told it was received, and deleted once handled.

aiogram's polling moves ``getUpdates``' offset past each update as soon as it has taken it, before its
handler runs: a process that dies then has confirmed updates it never handled, and Telegram does not
send them again (a "Place order" press, a ``successful_payment``: lost). Here each poll's updates are
first written to the inbox (``update_inbox``, one transaction for the poll); only then does the next
poll's offset move past them. Once handled and confirmed, they are deleted in a later poll's
transaction. A start handles what is left in the inbox before it polls; the record of handled updates
(``storage.uow.UnitOfWork.handle``) drops those whose effects had committed. A crash before the inbox
commit leaves the updates unconfirmed at Telegram: they come again, and are new to the inbox.

If the inbox cannot be written (the database is away), the offset stays: Telegram keeps the updates
and they are polled again, after a back-off, until the database is back. An update whose handler
failed (the database went away while it ran) stays in the inbox and is tried again a few times
(``RETRY_AFTER``), then at the next start. A graceful stop lets the updates being handled finish
(``DRAIN_SECONDS``); those still running or waiting for a free slot stay in the inbox.

The seam: ``InboxDispatcher`` replaces aiogram's ``Dispatcher._polling`` (aiogram 3.31: its
arguments and its ``_process_update`` and ``_handle_update_tasks``; pyproject bounds aiogram below 4);
``tests/handlers/test_polling.py`` fails if they change shape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.uow import UnitOfWork

from .middlewares import Outcome

log = logging.getLogger("orderbot")
DRAIN_SECONDS = 10.0  # on a graceful stop, how long the updates being handled may take to finish
RETRY_AFTER = (10.0, 60.0, 300.0, 1800.0)  # seconds: an update whose handler failed is tried again


class Inbox:
    """The updates of one bot taken from Telegram and not yet handled, in the database.

    An update is deleted once it is handled and Telegram has been told it was received (a poll's offset
    past it): in the transaction that keeps the next poll's updates, so handling an update costs no
    write of its own here. So an update Telegram may still send again is always in the inbox, and one
    that ``keep`` finds new was never taken before (its handler need not look for a record of it).

    An update whose handler failed (the database away at that moment, say) is held: it stays in the
    inbox and is tried again (``RETRY_AFTER``); what is still held when the process stops is tried at
    the next start.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], bot: Bot) -> None:
        self.session_factory, self.bot = session_factory, bot
        self.running: set[int] = set()  # taken and not done: being handled, or waiting for a slot
        self.held: dict[int, int] = {}  # failed, to be tried again: the attempts so far
        self.forgotten_below: int | None = None  # the inbox holds no update of a lower id that is done

    async def left(self) -> list[Update]:
        """What a process before this one took and did not finish (or finished, and did not yet delete),
        oldest first."""
        async with UnitOfWork(self.session_factory) as uow:
            payloads = await uow.updates.left_in_inbox(self.bot.id)
        return [Update.model_validate_json(p, context={"bot": self.bot}) for p in payloads]

    async def keep(self, updates: Sequence[Update], confirmed_below: int | None) -> list[Update]:
        """In one transaction: write the updates, and delete those handled whose ids are below
        ``confirmed_below`` (the offset of the poll that brought these). The updates that were new,
        counted as running from now."""
        below = self._deletable(confirmed_below)
        if not updates and below is None:
            return []
        rows = [(u.update_id, u.model_dump_json(by_alias=True, exclude_unset=True)) for u in updates]
        async with UnitOfWork(self.session_factory) as uow:
            await uow.begin_write()
            if below is not None:
                await uow.updates.out_of_inbox(self.bot.id, below, sorted(self.held))
            new = await uow.updates.keep(self.bot.id, rows) if rows else set()
            await uow.commit()
        if below is not None:
            self.forgotten_below = below
        fresh = [u for u in updates if u.update_id in new]
        self.take(fresh)
        return fresh

    def _deletable(self, confirmed_below: int | None) -> int | None:
        if confirmed_below is None:
            return None
        below = min(min(self.running, default=confirmed_below), confirmed_below)
        if self.forgotten_below is not None and below <= self.forgotten_below:
            return None
        return below

    def take(self, updates: Sequence[Update]) -> None:
        self.running.update(u.update_id for u in updates)

    def finish(self, update: Update) -> None:
        self.running.discard(update.update_id)
        if self.held.pop(update.update_id, None) is not None:
            self.forgotten_below = None  # its row is below what was deleted: the next poll deletes it

    def hold(self, update: Update) -> int:
        """The update's handler failed: kept in the inbox; how many times it has failed."""
        self.running.discard(update.update_id)
        attempts = self.held[update.update_id] = self.held.get(update.update_id, 0) + 1
        return attempts


class InboxDispatcher(Dispatcher):
    """aiogram's dispatcher with a polling loop that keeps every update it takes until handled
    (``Inbox``). Needs ``session_factory`` among its workflow data."""

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
        inbox = Inbox(self["session_factory"], bot)
        self._retries: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(tasks_concurrency_limit or 100)
        backoff = Backoff(config=backoff_config or DEFAULT_BACKOFF_CONFIG)
        timeout = (
            {"request_timeout": int(bot.session.timeout + polling_timeout)} if bot.session.timeout else {}
        )
        me = await bot.me()
        offset: int | None = None
        try:
            left = await inbox.left()
            if left:  # kept, so Telegram may be told it has them: every lower id was kept or confirmed
                log.info("handling %s update(s) a stopped process had taken", len(left))
                offset = left[-1].update_id + 1
                inbox.take(left)
            await self._start_handling(bot, left, inbox, slots, kwargs)  # each looked up: handled before?
            new = {**kwargs, "update_is_new": True}
            log.info("polling for @%s (id %s)", me.username, bot.id)
            this = asyncio.current_task()
            while this is None or not this.cancelling():  # a cancellation the HTTP client swallowed: stop
                poll = GetUpdates(offset=offset, timeout=polling_timeout, allowed_updates=allowed_updates)
                try:
                    updates = await bot(poll, **timeout)  # confirms every update below the offset
                    fresh = await inbox.keep(updates, confirmed_below=offset)
                except Exception as error:  # noqa: BLE001 - Telegram or the database away: again, and again
                    if this is not None and this.cancelling():
                        break  # stopping: aiohttp may turn a poll's cancellation into a network error
                    log.error(
                        "could not take updates (%s: %s); again in %.1f s",
                        type(error).__name__,
                        error,
                        backoff.next_delay,
                    )
                    await backoff.asleep()
                    continue
                backoff.reset()
                if updates:
                    offset = updates[-1].update_id + 1  # they are kept: the next poll confirms them
                await self._start_handling(bot, fresh, inbox, slots, new)
        finally:
            await self._drain(bot, inbox, offset)

    async def _start_handling(
        self,
        bot: Bot,
        updates: list[Update],
        inbox: Inbox,
        slots: asyncio.Semaphore,
        kwargs: dict[str, Any],
    ) -> None:
        for update in updates:
            await slots.acquire()
            task = asyncio.create_task(self._handle_and_finish(bot, update, inbox, slots, kwargs))
            self._handle_update_tasks.add(task)
            task.add_done_callback(self._handle_update_tasks.discard)

    async def _handle_and_finish(
        self, bot: Bot, update: Update, inbox: Inbox, slots: asyncio.Semaphore, kwargs: dict[str, Any]
    ) -> None:
        outcome = Outcome()
        try:  # aiogram logs what a handler raised; the unit of work tells the outcome
            await self._process_update(bot=bot, update=update, update_outcome=outcome, **kwargs)
        finally:
            slots.release()
        if not outcome.failed:
            inbox.finish(update)
            return
        attempts = inbox.hold(update)
        if attempts > len(RETRY_AFTER):
            log.error(
                "update %s failed %s times; it is tried again at the next start", update.update_id, attempts
            )
            return
        delay = RETRY_AFTER[attempts - 1]
        log.warning("update %s failed; tried again in %.0f s", update.update_id, delay)
        retry = asyncio.create_task(self._retry(bot, update, inbox, slots, kwargs, delay))
        self._retries.add(retry)
        retry.add_done_callback(self._retries.discard)

    async def _retry(
        self,
        bot: Bot,
        update: Update,
        inbox: Inbox,
        slots: asyncio.Semaphore,
        kwargs: dict[str, Any],
        delay: float,
    ) -> None:
        await asyncio.sleep(delay)
        await slots.acquire()
        again = {k: v for k, v in kwargs.items() if k != "update_is_new"}  # its record is looked up
        again["update_attempt"] = inbox.held.get(update.update_id, 0) + 1  # apologised for once already
        task = asyncio.create_task(self._handle_and_finish(bot, update, inbox, slots, again))
        self._handle_update_tasks.add(task)
        task.add_done_callback(self._handle_update_tasks.discard)

    async def _drain(self, bot: Bot, inbox: Inbox, offset: int | None) -> None:
        """Stopping: let the updates being handled finish (a while), confirm the last poll's updates to
        Telegram, and delete what is handled from the inbox. What is still running stays there: a start
        handles it."""
        for retry in list(self._retries):  # what is held stays in the inbox for the next start
            retry.cancel()
        running = [task for task in self._handle_update_tasks if not task.done()]
        if running:
            await asyncio.wait(running, timeout=DRAIN_SECONDS)
        if offset is None:
            return
        try:  # confirms every update below the offset; the one it may return stays unconfirmed
            await bot(GetUpdates(offset=offset, limit=1, timeout=0), request_timeout=5)
            await inbox.keep([], confirmed_below=offset)
        except Exception as error:  # noqa: BLE001 - they come back after the restart and are dropped there
            log.warning("could not confirm the last updates on stopping: %s", error)
