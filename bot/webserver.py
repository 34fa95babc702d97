"""Webhook mode: one aiohttp server per worker with the bot's webhook, /healthz and /metrics.

Each update is handled inside its request (tens of milliseconds), so Telegram gets 200 only once the
work is committed; a worker that dies mid-update has answered nothing, and Telegram delivers it again
(to any worker), where the record of handled updates, committed with the update's effects, makes a copy
of one that got that far change nothing. An update whose handler failed is answered 500: Telegram
delivers it again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.uow import UnitOfWork

from .metrics import Metrics
from .middlewares import Outcome

log = logging.getLogger("orderbot.webhook")


class FailedUpdates:
    """Updates whose handler failed, so that one delivered again is known as such: its sender had the
    apology the first time. With Redis the workers share it (a day, as long as Telegram tries); without,
    it is this process's own, the last ``keep``."""

    def __init__(self, redis: Any | None = None, keep: int = 10_000) -> None:
        self.redis, self.keep = redis, keep
        self._here: OrderedDict[int, None] = OrderedDict()

    async def failed_before(self, bot_id: int, update_id: int) -> bool:
        if self.redis is not None:
            try:
                return bool(await self.redis.exists(f"orderbot:failed-update:{bot_id}:{update_id}"))
            except Exception:  # Redis away: at worst the apology is said again
                return False
        return update_id in self._here

    async def note(self, bot_id: int, update_id: int) -> None:
        if self.redis is not None:
            try:
                await self.redis.set(f"orderbot:failed-update:{bot_id}:{update_id}", 1, ex=86_400)
            except Exception as error:
                log.warning("could not note update %s as failed: %s", update_id, error)
            return
        self._here[update_id] = None
        while len(self._here) > self.keep:
            self._here.popitem(last=False)


class RetriedOnFailure(SimpleRequestHandler):
    """Answers Telegram only once the update is handled, as aiogram's handler does; but an update whose
    handler failed (the database away at that moment) is answered 500, so Telegram delivers it again
    later instead of it being lost. What it changed was rolled back; its record is looked up again.
    The customer hears the apology for it once, not at every delivery (``FailedUpdates``)."""

    def __init__(self, *args: Any, failed: FailedUpdates, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failed = failed

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        outcome = Outcome()
        update = await request.json(loads=bot.session.json_loads)
        update_id = update.get("update_id") if isinstance(update, dict) else None
        again = isinstance(update_id, int) and await self.failed.failed_before(bot.id, update_id)
        result: Any = await self.dispatcher.feed_webhook_update(
            bot, update, update_outcome=outcome, update_attempt=2 if again else 1, **self.data
        )
        if outcome.failed:
            if isinstance(update_id, int):
                await self.failed.note(bot.id, update_id)
            return web.Response(status=500, text="the update failed; please send it again")
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def create_web_app(
    bot: Bot, dp: Dispatcher, engine: AsyncEngine, secret: str, path: str, redis: Any | None = None
) -> web.Application:
    app = web.Application()
    RetriedOnFailure(
        dp, bot, handle_in_background=False, secret_token=secret, failed=FailedUpdates(redis)
    ).register(app, path=path)
    setup_application(app, dp, bot=bot)
    metrics: Metrics = dp["metrics"]

    async def healthz(request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # the point is to report it, whatever it is
            checks["database"] = f"error: {error.__class__.__name__}"
        if redis is not None:
            try:
                await redis.ping()
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"error: {error.__class__.__name__}"
        healthy = all(value == "ok" for value in checks.values())
        return web.json_response(checks, status=200 if healthy else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        async with UnitOfWork(dp["session_factory"]) as uow:
            metrics.backlog.set(await uow.outbox.backlog())
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app
