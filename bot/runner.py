"""Starting the bot: database upgraded on start, commands set, long polling until stopped."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher

from handlers.render import Renderer
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade

from .app import create_bot, create_dispatcher, set_commands
from .settings import Settings

log = logging.getLogger("orderbot")


async def prepare(settings: Settings) -> tuple[Bot, Dispatcher, object]:
    engine = create_engine(settings.database_url)
    await upgrade(engine)  # the SQLite file is created and brought up to date on first start
    session_factory = create_session_factory(engine)
    renderer = Renderer(settings.shop_config())
    bot = create_bot(settings)
    dp = create_dispatcher(settings, session_factory, renderer)
    return bot, dp, engine


async def run_polling(settings: Settings) -> None:
    bot, dp, engine = await prepare(settings)
    try:
        me = await bot.get_me()
        log.info("orderbot is @%s (id %s), polling %s", me.username, me.id, settings.telegram_api_url)
        await set_commands(bot, dp["renderer"])
        await bot.delete_webhook(drop_pending_updates=False)
        await dp.start_polling(bot, polling_timeout=20, handle_signals=True)
    finally:
        await bot.session.close()
        await engine.dispose()  # type: ignore[attr-defined]
