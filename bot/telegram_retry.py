"""Direct replies survive Telegram's flood control: wait ``retry_after`` and send again, within bounds."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger("orderbot.telegram")


class RetryAfterMiddleware(BaseRequestMiddleware):
    """On 429, wait as Telegram asks and retry; give up after ``max_wait`` seconds in all."""

    def __init__(self, max_wait: float = 10.0, max_attempts: int = 5) -> None:
        self.max_wait = max_wait
        self.max_attempts = max_attempts

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self.max_attempts or waited + error.retry_after > self.max_wait:
                    raise
                log.info("flood control on %s: waiting %ss", type(method).__name__, error.retry_after)
                waited += error.retry_after
                await asyncio.sleep(error.retry_after)
        raise AssertionError("unreachable")
