"""Factories: the bot and the dispatcher with everything they need (tests build the very same ones)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import BotCommand
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import routers
from handlers.render import Renderer
from shop.config import LANGUAGES

from .broadcasts import BroadcastReporter
from .logs import LogContextMiddleware
from .metrics import Metrics, MetricsMiddleware
from .middlewares import (
    MemoryRate,
    RedisRate,
    ThrottleMiddleware,
    UnitOfWorkMiddleware,
)
from .outbox import OutboxSender, SendLimits
from .polling import InboxDispatcher
from .scheduler import Clock
from .settings import Settings
from .telegram_session import (
    FitToLimits,
    JsonSession,
    KeepResponseTypes,
    LateAnswers,
    RetryAfterMiddleware,
    loads_without_echo,
)

CUSTOMER_COMMANDS = (
    "start",
    "catalog",
    "search",
    "cart",
    "checkout",
    "orders",
    "points",
    "profile",
    "language",
    "help",
    "cancel",
    "mydata",
    "forgetme",
)


def create_bot(settings: Settings) -> Bot:
    session = JsonSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url), json_loads=loads_without_echo
    )
    session.middleware(FitToLimits())  # a message too long for Telegram is cut, not refused whole
    session.middleware(RetryAfterMiddleware())  # a reply delayed by flood control is better than lost
    session.middleware(LateAnswers())  # an answer too late to matter is no error
    session.middleware(KeepResponseTypes())  # one response class per return type, not one per call
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )


def create_dispatcher(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    renderer: Renderer | None = None,
    redis: Any | None = None,
) -> Dispatcher:
    """The dispatcher; with ``redis`` (REDIS_URL) the FSM, event isolation and throttle are shared by
    every worker, otherwise they live in this process."""
    config = settings.shop_config()
    renderer = renderer or Renderer(config)
    throttle = (settings.throttle_per_second, settings.throttle_burst)
    storage: BaseStorage = MemoryStorage()
    isolation: BaseEventIsolation = SimpleEventIsolation()  # one update of a user at a time
    if redis is not None:
        from aiogram.fsm.storage.redis import RedisStorage  # 6 MB: only with Redis

        from .isolation import LeasedRedisEventIsolation

        keys = DefaultKeyBuilder(prefix="orderbot:fsm", with_bot_id=True, with_destiny=True)
        storage = RedisStorage(redis, key_builder=keys)
        isolation = LeasedRedisEventIsolation(redis, key_builder=keys)  # a dead worker's lapses in seconds
    dp = InboxDispatcher(
        storage=storage,
        events_isolation=isolation,
        session_factory=session_factory,
        config=config,
        renderer=renderer,
        media_dir=Path(settings.media_dir),
        settings=settings,
    )
    metrics = Metrics()
    dp["metrics"] = metrics
    dp.update.outer_middleware(LogContextMiddleware())
    dp.update.outer_middleware(MetricsMiddleware(metrics))
    rate: MemoryRate | RedisRate = (
        RedisRate(redis, int(settings.bot_token.get_secret_value().split(":")[0] or 0), *throttle)
        if redis is not None
        else MemoryRate(*throttle)
    )
    dp.update.outer_middleware(ThrottleMiddleware(renderer, config, rate))
    dp.update.outer_middleware(UnitOfWorkMiddleware(session_factory, renderer, config))
    dp.include_routers(*routers())

    async def start_outbox(bot: Bot, dispatcher: Dispatcher) -> None:
        limits = SendLimits(
            settings.notify_per_second,
            settings.notify_chat_per_second,
            settings.notify_chat_burst,
            settings.notify_group_per_minute,
        )
        dispatcher["outbox"] = OutboxSender(bot, session_factory, renderer, limits, metrics)
        dispatcher["outbox"].timeout = settings.notify_send_timeout
        dispatcher["outbox"].give_up_after = timedelta(hours=settings.notify_give_up_after_hours)
        dispatcher["broadcasts"] = BroadcastReporter(bot, session_factory, renderer, config)
        dispatcher["clock"] = Clock(dispatcher["outbox"], session_factory, config, dispatcher["broadcasts"])
        dispatcher["clock"].start()

    async def stop_outbox(dispatcher: Dispatcher) -> None:
        await dispatcher["clock"].stop()

    dp.startup.register(start_outbox)
    dp.shutdown.register(stop_outbox)
    return dp


async def set_commands(bot: Bot, renderer: Renderer) -> None:
    """The command menu in each language."""
    for language in LANGUAGES:
        commands = [
            BotCommand(command=c, description=renderer.label(f"command_{c}", language))
            for c in CUSTOMER_COMMANDS
        ]
        await bot.set_my_commands(commands, language_code=None if language == "en" else language)
