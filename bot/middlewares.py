"""Outer middlewares, in order: throttle → drop redelivered updates → unit of work → customer + language."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.render import Renderer
from shop.config import ShopConfig
from shop.customers import TelegramUser, register_customer
from storage.uow import UnitOfWork

log = logging.getLogger("orderbot")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ThrottleMiddleware(BaseMiddleware):
    """A flood from one user is answered once; other users are unaffected."""

    def __init__(self, renderer: Renderer, config: ShopConfig, per_second: float, burst: int) -> None:
        self.renderer, self.config = renderer, config
        self.per_second, self.burst = per_second, burst
        self._limiters: dict[int, AsyncLimiter] = {}
        self._warned: dict[int, float] = {}
        self._sweep_at = time.monotonic() + 300

    def _limiter(self, user_id: int) -> AsyncLimiter:
        now = time.monotonic()
        if now > self._sweep_at:  # forget idle users so memory stays flat
            self._limiters = {k: v for k, v in self._limiters.items() if not v.has_capacity(self.burst)}
            self._sweep_at = now + 300
        limiter = self._limiters.get(user_id)
        if limiter is None:
            limiter = self._limiters[user_id] = AsyncLimiter(self.burst, self.burst / self.per_second)
        return limiter

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        limiter = self._limiter(user.id)
        if limiter.has_capacity():
            await limiter.acquire()
            self._warned.pop(user.id, None)
            return await handler(event, data)
        if user.id not in self._warned:
            self._warned[user.id] = time.monotonic()
            t = self.renderer.texts(self.config.language_for(None, user.language_code))
            inner = event.event if isinstance(event, Update) else event
            if isinstance(inner, Message):
                await inner.answer(t("start.throttled"))
            elif isinstance(inner, CallbackQuery):
                await inner.answer(t("start.throttled"), show_alert=True)
        return None


class UnitOfWorkMiddleware(BaseMiddleware):
    """One unit of work per update; a redelivered update (same update_id) is dropped before any work."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Update):
            async with UnitOfWork(self.session_factory) as uow:
                await uow.begin_write()
                bot = data["bot"]
                fresh = await uow.updates.mark_processed(bot.id, event.update_id)
                await uow.commit()
            if not fresh:
                log.info("update %s was already processed; dropped", event.update_id)
                return None
        async with UnitOfWork(self.session_factory) as uow:
            data["uow"] = uow
            return await handler(event, data)


class CustomerMiddleware(BaseMiddleware):
    """The customer behind the update (registered on first contact) and their language as ``t``."""

    def __init__(self, renderer: Renderer, config: ShopConfig) -> None:
        self.renderer, self.config = renderer, config

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        language = self.config.default_language
        if user is not None and not user.is_bot:
            uow: UnitOfWork = data["uow"]
            customer = await register_customer(
                uow, TelegramUser(user.id, user.first_name, user.last_name, user.username, user.language_code)
            )
            await uow.end_read()
            data["customer"] = customer
            language = self.config.language_for(customer.language, customer.telegram_language)
        data["lang"] = language
        data["t"] = self.renderer.texts(language)
        return await handler(event, data)


class OutboxKickMiddleware(BaseMiddleware):
    """After an update is handled (and committed), deliver what it queued without waiting for the loop."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        finally:
            outbox = data.get("outbox")
            if outbox is not None:
                outbox.kick()
