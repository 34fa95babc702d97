"""Request middlewares of our Bot API session.

- ``RetryAfterMiddleware``: direct replies survive Telegram's flood control (wait ``retry_after``, retry).
- ``JsonSession``: a request without files goes as one JSON body, not url-encoded form fields.
- ``KeepResponseTypes``: aiogram reads every answer through ``Response[method.__returning__]``; pydantic
  keeps such generic classes only weakly, so in a busy process the garbage collector drops them and
  every call builds the class again (a schema build per Bot API call: most of the bot's CPU time in
  ``bench updates`` until this held them).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiohttp import ClientError, ClientTimeout

log = logging.getLogger("orderbot.telegram")


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


class JsonSession(AiohttpSession):
    """Sends a request without files as one JSON body, which Telegram accepts as well as a form.

    aiogram sends every request as form fields: each nested value (a keyboard, entities) is dumped to
    JSON and the whole body then url-encoded character by character — 2-3% of the bot's time in
    ``bench updates`` (a category keyboard is a kilobyte of quoted JSON). Uploads keep aiogram's
    multipart form.
    """

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, Any] = {}
        body = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # what aiogram's form leaves out, but False and 0
                body[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=self.json_dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as response:
                raw = await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            raise TelegramNetworkError(method=method, message=f"{type(error).__name__}: {error}") from error
        answer = self.check_response(bot=bot, method=method, status_code=response.status, content=raw)
        return cast(TelegramType, answer.result)
