"""Keeps each broadcast's progress message up to date: one message, edited as the outbox delivers."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.render import Renderer
from shop import broadcast
from shop.config import ShopConfig
from shop.notifications import language_of
from storage.models import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger("orderbot.broadcast")


class BroadcastReporter:
    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        config: ShopConfig,
    ) -> None:
        self.bot, self.session_factory, self.renderer, self.config = bot, session_factory, renderer, config

    async def report(self) -> int:
        """Edit the progress message of every unfinished broadcast whose figures changed; finish the done."""
        changed = 0
        async with UnitOfWork(self.session_factory) as uow:
            for item in await uow.broadcasts.unfinished():
                progress = await broadcast.progress(uow, item)
                language = await language_of(uow, item.progress_chat_id, self.config)
                await uow.end_read()
                text = self.renderer.render("staff.broadcast_progress", language, number=item.id, p=progress)
                message_id = item.progress_message_id
                new = text != item.progress_text or message_id is None
                if not new and not progress.done:
                    continue  # nothing to show or to write (this runs every two seconds)
                if new:
                    message_id = await self._show(item.progress_chat_id, message_id, text)
                    changed += 1
                await uow.begin_write()
                fresh = await uow.broadcasts.get(item.id)
                if fresh is not None:
                    fresh.progress_text, fresh.progress_message_id = text, message_id
                    if progress.done:
                        fresh.finished_at = utcnow()
                await uow.commit()
        return changed

    async def _show(self, chat_id: int, message_id: int | None, text: str) -> int | None:
        """Edit the progress message, or send a new one if it cannot be edited (deleted, too old)."""
        try:
            if message_id is not None:
                await self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
                return message_id
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return message_id
            log.info("progress message %s: %s; sending a new one", message_id, error.message)
        try:
            return (await self.bot.send_message(chat_id, text)).message_id
        except TelegramAPIError as error:  # the staff chat is gone: the broadcast goes on regardless
            log.warning("cannot report broadcast progress to %s: %s", chat_id, error)
            return message_id

    async def report_logged(self) -> None:
        try:
            await self.report()
        except Exception:
            log.exception("broadcast progress failed")
