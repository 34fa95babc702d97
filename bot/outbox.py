"""Delivering the outbox: rows written in the same transaction as the change they announce.

For now the sender runs right after each update and on a short loop (the scheduler issue adds its
clock, rate limits and quiet hours). A row is marked sent only after Telegram accepted it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.render import Renderer
from handlers.staff import keyboards as staff_keyboards
from storage.models import OutboxMessage, utcnow
from storage.uow import UnitOfWork

log = logging.getLogger("orderbot.outbox")
MAX_ATTEMPTS = 5


class OutboxSender:
    def __init__(
        self, bot: Bot, session_factory: async_sessionmaker[AsyncSession], renderer: Renderer
    ) -> None:
        self.bot, self.session_factory, self.renderer = bot, session_factory, renderer
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def flush(self, limit: int = 50) -> int:
        """Send what is due now; returns how many were sent."""
        async with self._lock:
            async with UnitOfWork(self.session_factory) as uow:
                due = await uow.outbox.due(utcnow(), limit)
            sent = 0
            for row in due:
                outcome = await self._send(row)
                if outcome == "sent":
                    sent += 1
                elif outcome == "paused":
                    break  # flood control: everything waits for retry_after
            return sent

    async def _send(self, row: OutboxMessage) -> str:
        text = self.renderer.render(row.template, row.language, **row.context)
        markup = self._markup(row)
        try:
            if row.context.get("pickup_code"):
                await self.bot.send_photo(
                    row.chat_id,
                    BufferedInputFile(qr_png(row.context["pickup_code"]), "pickup.png"),
                    caption=text,
                    reply_markup=markup,
                )
            elif row.photo:
                await self.bot.send_photo(row.chat_id, row.photo, caption=text[:1024], reply_markup=markup)
            else:
                await self.bot.send_message(row.chat_id, text, reply_markup=markup)
        except TelegramRetryAfter as error:
            await self._update(
                row.id, due_at=utcnow() + timedelta(seconds=error.retry_after), last_error=str(error)
            )
            return "paused"
        except TelegramForbiddenError as error:  # blocked, or never started the bot: never retried
            await self._update(row.id, status="failed", last_error=error.message, unreachable=row.chat_id)
            return "failed"
        except TelegramBadRequest as error:
            await self._update(row.id, status="failed", last_error=error.message)
            return "failed"
        except (TelegramNetworkError, TelegramServerError) as error:
            attempts = row.attempts + 1
            await self._update(
                row.id,
                attempts=attempts,
                last_error=str(error),
                status="failed" if attempts >= MAX_ATTEMPTS else "pending",
                due_at=utcnow() + timedelta(seconds=2**attempts),
            )
            return "retry"
        await self._update(row.id, status="sent", sent_at=utcnow(), attempts=row.attempts + 1)
        return "sent"

    def _markup(self, row: OutboxMessage) -> InlineKeyboardMarkup | None:
        if row.kind in {"new_order", "receipt", "payment_recorded"}:
            t = self.renderer.texts(row.language)
            return staff_keyboards.order_actions(t, int(row.context["number"]), row.context.get("payment_id"))
        return None

    async def _update(self, row_id: int, unreachable: int | None = None, **values: Any) -> None:
        async with UnitOfWork(self.session_factory) as uow:
            await uow.begin_write()
            row = await uow.outbox.get(row_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)
            if unreachable is not None:
                customer = await uow.customers.by_telegram_id(unreachable)
                if customer is not None and customer.blocked_at is None:
                    customer.blocked_at = utcnow()
            await uow.commit()
        if values.get("status") == "failed":
            log.warning("outbox message %s failed: %s", row_id, values.get("last_error"))

    # --- running -----------------------------------------------------------------------------------
    def kick(self) -> None:
        """Deliver soon, without holding up the caller (after an update is handled)."""
        asyncio.get_running_loop().create_task(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:  # the loop tries again; an error here must not take the bot down
            log.exception("outbox delivery failed")

    async def run(self, every: float = 2.0) -> None:
        while True:
            await self._flush_logged()
            await asyncio.sleep(every)

    def start(self, every: float = 2.0) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(every))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def qr_png(text: str) -> bytes:
    """A QR code of the pickup code (segno), for staff to scan at the counter."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()
