"""Outer middlewares, in order: throttle → unit of work (drop an update handled before; the customer,
staff role and language; the update recorded with its effects; then deliver what the update queued)."""

from __future__ import annotations

import asyncio
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
from shop.customers import TelegramUser, identify
from storage.group_commit import GroupCommit
from storage.uow import AlreadyHandled, UnitOfWork, UpdateKey

log = logging.getLogger("orderbot")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class MemoryRate:
    """Per-user token buckets in this process (aiolimiter): ``burst`` at once, ``per_second`` sustained."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second, self.burst = per_second, burst
        self._limiters: dict[int, AsyncLimiter] = {}
        self._sweep_at = time.monotonic() + 300

    async def allow(self, user_id: int) -> bool:
        now = time.monotonic()
        if now > self._sweep_at:  # forget idle users so memory stays flat
            self._limiters = {k: v for k, v in self._limiters.items() if not v.has_capacity(self.burst)}
            self._sweep_at = now + 300
        limiter = self._limiters.get(user_id)
        if limiter is None:
            limiter = self._limiters[user_id] = AsyncLimiter(self.burst, self.burst / self.per_second)
        if not limiter.has_capacity():
            return False
        await limiter.acquire()
        return True


class RedisRate:
    """The same allowance shared by every worker through Redis: at most ``burst`` updates in any
    ``burst/per_second`` seconds (whole seconds) per user — a moving window (limits, one Lua script, one
    round trip on our Redis client's connections). A fixed window let twice the burst through across a
    window's edge."""

    def __init__(self, redis: Any, bot_id: int, per_second: float, burst: int) -> None:
        # 2 MB and 50 ms of imports: only with Redis
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,
            key_prefix=f"orderbot:throttle:{bot_id}",
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.allowance = RateLimitItemPerSecond(burst, max(1, round(burst / per_second)))

    async def allow(self, user_id: int) -> bool:
        return await self.limiter.hit(self.allowance, str(user_id))


class ThrottleMiddleware(BaseMiddleware):
    """A flood from one user is answered once; other users are unaffected."""

    def __init__(self, renderer: Renderer, config: ShopConfig, rate: MemoryRate | RedisRate) -> None:
        self.renderer, self.config, self.rate = renderer, config, rate
        self._warned: dict[int, float] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        if await self.rate.allow(user.id):
            self._warned.pop(user.id, None)
            return await handler(event, data)
        if user.id not in self._warned:
            if len(self._warned) > 10_000:
                self._warned.clear()
            self._warned[user.id] = time.monotonic()
            t = self.renderer.texts(self.config.language_for(None, user.language_code))
            inner = event.event if isinstance(event, Update) else event
            if isinstance(inner, Message):
                await inner.answer(t("start.throttled"))
            elif isinstance(inner, CallbackQuery):
                await inner.answer(t("start.throttled"), show_alert=True)
        return None


class Outcome:
    """How handling one update ended, for whoever feeds it (long polling, the webhook): given as
    ``update_outcome``; ``UnitOfWorkMiddleware`` sets ``failed`` when its handler raised."""

    failed = False


class ReadOnlyUpdates:
    """Records, once handled, the updates that wrote nothing (a look at the cart, /help), so a copy
    Telegram delivers again is not answered twice. Updates that wrote are recorded with their effects
    (``UnitOfWork.handle``); these have none to lose, so the record comes after, in a group commit."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.records: GroupCommit[UpdateKey] = GroupCommit(session_factory, self._write)

    @staticmethod
    async def _write(uow: UnitOfWork, keys: list[UpdateKey]) -> None:
        await uow.updates.mark_new(keys)

    async def record(self, key: UpdateKey) -> None:
        try:
            await self.records.add(key)
        except Exception as error:  # noqa: BLE001 - handled all the same; a copy would be answered again
            log.warning("update %s was handled but could not be recorded: %s", key[1], error)


class UnitOfWorkMiddleware(BaseMiddleware):
    """One unit of work per update. An update handled before (a redelivery) is dropped (unless polling's
    inbox found it new: ``update_is_new``, it was never taken before); otherwise its
    sender is read as a customer with their staff ``role`` ("owner", "staff" or None, for the staff
    routers' filter), a first contact registered, and the unit of work told which update it handles:
    the update is recorded as handled in the transaction that commits its effects
    (``UnitOfWork.handle``), never before; one that wrote nothing is recorded after its handler
    (``ReadOnlyUpdates``). Their language comes as ``lang`` and ``t``. What the update queued in the
    outbox is delivered when it is done."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], renderer: Renderer, config: ShopConfig
    ) -> None:
        self.session_factory, self.renderer, self.config = session_factory, renderer, config
        self._running: dict[UpdateKey, asyncio.Event] = {}  # updates being handled in this process
        self.read_only = ReadOnlyUpdates(session_factory)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await self._handle(handler, event, data, None)
        key = (data["bot"].id, event.update_id)
        while (running := self._running.get(key)) is not None:
            await running.wait()  # the same update twice at once: this copy after the first, if needed
        done = self._running[key] = asyncio.Event()
        try:
            return await self._handle(handler, event, data, key)
        except Exception:
            outcome = data.get("update_outcome")  # long polling keeps the update to try it again
            if outcome is not None:
                outcome.failed = True
            raise
        finally:
            del self._running[key]
            done.set()

    async def _handle(
        self, handler: Handler, event: TelegramObject, data: dict[str, Any], key: UpdateKey | None
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and user.is_bot:
            user = None
        async with UnitOfWork(self.session_factory) as uow:
            if key is not None and not data.get("update_is_new") and await uow.updates.handled(*key):
                log.info("update %s was handled before; dropped", key[1])
                return None
            language = self.config.default_language
            if user is not None:
                telegram_user = TelegramUser(
                    user.id, user.first_name, user.last_name, user.username, user.language_code
                )
                customer, data["role"] = await identify(uow, telegram_user, self.config)
                language = self.config.language_for(customer.language, customer.telegram_language)
                data["customer"] = customer
            if key is not None:
                uow.handle(key)
            data["uow"], data["lang"], data["t"] = uow, language, self.renderer.texts(language)
            try:
                result = await handler(event, data)
            except AlreadyHandled:
                log.info("update %s was handled by another copy meanwhile; this one rolled back", key)
                return None
            finally:
                outbox = data.get("outbox")
                if outbox is not None and uow.queued:
                    outbox.kick()  # deliver what the update committed to the outbox now, not at the next tick
        if key is not None and not uow.marked:  # it wrote nothing: recorded now it is done
            await self.read_only.record(key)
        return result
