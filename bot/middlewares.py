"""Outer middlewares, in order: throttle → unit of work (drop a redelivered update; the customer, staff
role and language; then deliver what the update queued)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.render import Renderer
from shop.config import ShopConfig
from shop.customers import Known, TelegramUser, identify
from storage.uow import UnitOfWork

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


@dataclass
class Arrival:
    """An update as recorded: is this its first time, and who sent it (as read in the same transaction)."""

    first_time: bool
    known: Known | None  # the sender as a customer (None in it: not one yet) with their staff role


# (bot id, update id): (the sender's user id, the answer the update waits for)
Waiting = dict[tuple[int, int], tuple[int | None, "asyncio.Future[Arrival]"]]


class HandledUpdates:
    """The record of handled update ids, written for many updates in one transaction (a group commit),
    with their senders read as customers in the same transaction.

    Every update is recorded before it is handled, so a redelivered copy is dropped. Updates that arrive
    while a record is being written wait for it to finish and are then written together: at rest each
    update has a transaction of its own, as before; under load one transaction and two statements serve
    all that queued. One per update cost a writer's transaction and a query each (bench uow).
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory
        self._waiting: Waiting = {}
        self._writer: asyncio.Task[None] | None = None

    async def arrive(self, bot_id: int, update_id: int, user_id: int | None) -> Arrival:
        """Record the update; ``first_time`` is False when it was recorded before (or is being now)."""
        key = (bot_id, update_id)
        if key in self._waiting:
            return Arrival(False, None)  # the same update twice at once: one copy is enough
        future = asyncio.get_running_loop().create_future()
        self._waiting[key] = (user_id, future)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch: Waiting = {}
            try:
                async with UnitOfWork(self.session_factory) as uow:
                    await uow.begin_write()  # waiting for the writer's turn, more updates join the batch
                    batch, self._waiting = self._waiting, {}
                    new = await uow.updates.mark_new(list(batch))
                    users = sorted({user for user, _ in batch.values() if user is not None})
                    customers = await uow.customers.with_staff_roles(users) if users else {}
                    await uow.commit()
            except Exception as error:  # the database is down? Those it was for fail with it
                failed = batch or self._waiting  # the batch, or all waiting for the writer's turn
                for _, future in failed.values():
                    if not future.done():
                        future.set_exception(error)
                failed.clear()  # those who came while the batch was written try on their own
                continue
            except BaseException:  # cancelled (the bot is stopping): so is every update waiting
                for _, future in [*batch.values(), *self._waiting.values()]:
                    future.cancel()
                self._waiting.clear()
                raise
            for key, (user, future) in batch.items():
                if not future.done():  # its update may have been cancelled meanwhile
                    known = None if user is None else customers.get(user, (None, None))
                    future.set_result(Arrival(key in new, known))


class UnitOfWorkMiddleware(BaseMiddleware):
    """One unit of work per update. Before any handler: the update id is recorded and its sender read as
    a customer with their staff ``role`` ("owner", "staff" or None, for the staff routers' filter), both
    by ``HandledUpdates`` (a redelivered update is dropped here); a first contact is registered. Their
    language comes as ``lang`` and ``t``. What the update queued in the outbox is delivered when it is
    done."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], renderer: Renderer, config: ShopConfig
    ) -> None:
        self.session_factory, self.renderer, self.config = session_factory, renderer, config
        self.handled = HandledUpdates(session_factory)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and user.is_bot:
            user = None
        known = None
        if isinstance(event, Update):
            arrival = await self.handled.arrive(data["bot"].id, event.update_id, user.id if user else None)
            if not arrival.first_time:
                log.info("update %s was already processed; dropped", event.update_id)
                return None
            known = arrival.known
        async with UnitOfWork(self.session_factory) as uow:
            language = self.config.default_language
            if user is not None:
                telegram_user = TelegramUser(
                    user.id, user.first_name, user.last_name, user.username, user.language_code
                )
                customer, data["role"] = await identify(uow, telegram_user, self.config, known)
                language = self.config.language_for(customer.language, customer.telegram_language)
                data["customer"] = customer
            data["uow"], data["lang"], data["t"] = uow, language, self.renderer.texts(language)
            try:
                return await handler(event, data)
            finally:
                outbox = data.get("outbox")
                if outbox is not None and uow.queued:
                    outbox.kick()  # deliver what the update committed to the outbox now, not at the next tick
