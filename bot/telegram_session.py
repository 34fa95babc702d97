"""Request middlewares of our Bot API session.

- ``RetryAfterMiddleware``: direct replies survive Telegram's flood control (wait ``retry_after``, retry).
  The outbox sender turns it off for its own sends (``retry_429``): a refused row waits in the table.
- ``loads_without_keyboards``: the session's JSON reader, which leaves out the keyboard Telegram echoes
  back with every message we send or edit (never read, and most of the answer's pydantic work).
- ``KeepResponseTypes``: aiogram reads every answer through ``Response[method.__returning__]``; pydantic
  keeps such generic classes only weakly, so in a busy process the garbage collector drops them and
  every call builds the class again (a schema build per Bot API call: most of the bot's CPU time in
  ``bench updates`` until this held them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from contextvars import ContextVar
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger("orderbot.telegram")
# False in a task that handles a 429 itself (the outbox sender): the middleware passes it on at once.
retry_429: ContextVar[bool] = ContextVar("retry_429", default=True)


def loads_without_keyboards(content: str) -> Any:
    """The Bot API's answer, without the ``reply_markup`` of the message it returns.

    Telegram answers a sent or edited message with the whole message, its keyboard included, and
    aiogram validates every button into a pydantic object that nothing reads (what the bot sent is what
    it meant to send). A product page's keyboard tripled the cost of reading the answer (77 µs against
    24 µs for 13 buttons). Updates are left whole: getUpdates returns a list, and a pressed message's
    keyboard is what ``show`` compares against.
    """
    data = json.loads(content)
    result = data.get("result") if isinstance(data, dict) else None
    if isinstance(result, dict):
        result.pop("reply_markup", None)
    return data


class RetryAfterMiddleware(BaseRequestMiddleware):
    """On 429, wait as Telegram asks (plus a random part, so a crowd of replies refused together does not
    come back together) and retry; give up after ``max_wait`` seconds in all."""

    def __init__(self, max_wait: float = 30.0, max_attempts: int = 10) -> None:
        self.max_wait = max_wait
        self.max_attempts = max_attempts

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not retry_429.get():
            return await make_request(bot, method)
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self.max_attempts or waited + error.retry_after > self.max_wait:
                    raise
                pause = error.retry_after * (1 + random.random())  # noqa: S311 - spreading, not secrecy
                log.info("flood control on %s: waiting %.1fs", type(method).__name__, pause)
                waited += pause
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")


class KeepResponseTypes(BaseRequestMiddleware):
    """Hold a strong reference to ``Response[T]`` for each return type this bot has met."""

    def __init__(self) -> None:
        self.kept: dict[Any, Any] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.kept:
            self.kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)
