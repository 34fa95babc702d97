"""Request middlewares of our Bot API session.

- ``RetryAfterMiddleware``: direct replies survive Telegram's flood control (wait ``retry_after``, retry).
  The outbox sender turns it off for its own sends (``retry_429``): a refused row waits in the table.
- ``LateAnswers``: answering a query (a button press, a payment's pre-checkout, an inline query) that
  Telegram no longer waits for is not an error: the query was handled again after a crash or an outage,
  and the person has moved on (a pre-checkout unanswered in time was declined, nothing charged). And
  answering a button press is a courtesy (it stops the spinner): Telegram away, it is skipped. By then
  the press has done its work: the customer must not hear "something went wrong" about an order placed.
- ``loads_without_echo``: the session's JSON reader, which leaves out the keyboard and formatting Telegram
  echoes back with every message we send or edit (never read, and most of the answer's pydantic work).
- ``JsonSession``: sends each call's parameters as one JSON body instead of aiogram's url-encoded form
  (a field JSON-encoded and then percent-quoted character by character in Python): 66 µs against
  240 µs for a message with ten buttons.
- ``FitToLimits``: every text, caption, alert and invoice field the bot sends fits Telegram's limits
  (``handlers.limits.cut``), whatever the view that made it forgot.
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
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerInlineQuery,
    AnswerPreCheckoutQuery,
    CopyMessage,
    CreateInvoiceLink,
    EditMessageCaption,
    EditMessageText,
    SendAnimation,
    SendAudio,
    SendDocument,
    SendInvoice,
    SendMessage,
    SendPhoto,
    SendVideo,
    SendVoice,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiohttp import BytesPayload, FormData

from handlers.limits import ALERT_LIMIT, CAPTION_LIMIT, TEXT_LIMIT, clip, cut

log = logging.getLogger("orderbot.telegram")
# False in a task that handles a 429 itself (the outbox sender): the middleware passes it on at once.
retry_429: ContextVar[bool] = ContextVar("retry_429", default=True)
# Parts of a sent or edited message that Telegram echoes back and the bot never reads.
ECHOED = ("reply_markup", "entities", "caption_entities")
TOO_LATE = ("query is too old", "query ID is invalid")  # a query Telegram no longer waits for an answer to
ANSWERS = (AnswerCallbackQuery, AnswerPreCheckoutQuery, AnswerInlineQuery)


def loads_without_echo(content: str) -> Any:
    """The Bot API's answer, without what it echoes back of the message we sent: its keyboard
    (``reply_markup``) and its formatting (``entities``, ``caption_entities``).

    Telegram answers a sent or edited message with the whole message, and aiogram validates every button
    and every bold or italic span into a pydantic object that nothing reads (what the bot sent is what
    it meant to send). A product page's keyboard tripled the cost of reading the answer (77 µs against
    24 µs for 13 buttons); four bold spans nearly doubled it (46 µs against 25). Updates are left whole:
    getUpdates returns a list, and a pressed message's keyboard and text are what ``show`` compares
    against.
    """
    data = json.loads(content)
    result = data.get("result") if isinstance(data, dict) else None
    if isinstance(result, dict):
        for echoed in ECHOED:
            result.pop(echoed, None)
    return data


class JsonSession(AiohttpSession):
    """aiogram's session, the parameters sent as a JSON body (the Bot API takes either).

    aiogram builds a form: every field JSON-encoded on its own, then the form percent-quoted by
    ``urllib.parse.quote`` in Python, a character at a time — for a keyboard of ten buttons most of a
    call's CPU. Here the method is dumped once (its ``None`` fields left out, as aiogram leaves them
    out), the bot's defaults put in, and the whole encoded by the C encoder. A call that uploads a
    file needs ``multipart/form-data`` and goes aiogram's way.
    """

    # aiogram's ``make_request`` posts whatever this returns (aiohttp takes a payload as well as a form),
    # so only the body is ours: the request, its timeout and its errors stay aiogram's.
    def build_form_data(  # type: ignore[override]
        self, bot: Bot, method: TelegramMethod[TelegramType]
    ) -> FormData | BytesPayload:
        files: dict[str, Any] = {}
        body = self._plain(method.model_dump(warnings=False, exclude_none=True), bot, files)
        if files:
            return super().build_form_data(bot, method)
        return BytesPayload(self.json_dumps(body).encode(), content_type="application/json")

    def _plain(self, value: Any, bot: Bot, files: dict[str, Any]) -> Any:
        """``value`` as JSON can carry it: ``None`` left out, the bot's defaults resolved, and anything
        else that is not plain data (a file, a date, an enum) prepared as aiogram prepares it."""
        if isinstance(value, dict):
            plain = {}
            for key, item in value.items():
                if item is not None and (item := self._plain(item, bot, files)) is not None:
                    plain[key] = item
            return plain
        if isinstance(value, list):
            return [plain for item in value if (plain := self._plain(item, bot, files)) is not None]
        if value is None or isinstance(value, str | int | float):  # bool is an int
            return value
        if isinstance(value, Default):
            return self._plain(bot.default[value.name], bot, files)
        return self.prepare_value(value, bot=bot, files=files, _dumps_json=False)


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


class LateAnswers(BaseRequestMiddleware):
    """An answer to a query that Telegram refuses as too late, or a button press's answer it cannot take
    now, succeeds with nothing shown (flood control is left to ``RetryAfterMiddleware``)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter:
            raise
        except TelegramAPIError as error:
            late = isinstance(error, TelegramBadRequest) and any(s in error.message for s in TOO_LATE)
            courtesy = type(method) is AnswerCallbackQuery and not isinstance(error, TelegramBadRequest)
            if not (late and isinstance(method, ANSWERS) or courtesy):
                raise
            log.info("%s not answered: %s", type(method).__name__, error.message)
            return Response[bool](ok=True, result=True)  # type: ignore[return-value]


_CAPTION = (("caption", CAPTION_LIMIT),)
_INVOICE = (("title", 32), ("description", 255))
# What Telegram measures in a call, and its limit.
MEASURED: dict[type[TelegramMethod[Any]], tuple[tuple[str, int], ...]] = {
    SendMessage: (("text", TEXT_LIMIT),),
    EditMessageText: (("text", TEXT_LIMIT),),
    SendPhoto: _CAPTION,
    SendDocument: _CAPTION,
    SendVideo: _CAPTION,
    SendAnimation: _CAPTION,
    SendAudio: _CAPTION,
    SendVoice: _CAPTION,
    EditMessageCaption: _CAPTION,
    CopyMessage: _CAPTION,
    AnswerCallbackQuery: (("text", ALERT_LIMIT),),
    SendInvoice: _INVOICE,
    CreateInvoiceLink: _INVOICE,
}


class FitToLimits(BaseRequestMiddleware):
    """The last line of defence: a text or caption longer than Telegram takes is cut to fit (as HTML
    when it is sent as HTML: between tags, its open tags closed) instead of the whole message being
    refused. A view whose lists can grow pages them (``handlers.limits.pages``); this is for what no view
    expected, and it says so in the log."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for field, limit in MEASURED.get(type(method), ()):
            value = getattr(method, field, None)
            if not isinstance(value, str) or len(value) * 2 <= limit:
                continue
            parse_mode = getattr(method, "parse_mode", None)
            if isinstance(parse_mode, Default):
                parse_mode = bot.default[parse_mode.name]
            fitted = cut(value, limit) if (parse_mode or "").lower() == "html" else clip(value, limit)
            if fitted != value:
                log.warning(
                    "%s: the %s was cut to Telegram's limit (%d)", type(method).__name__, field, limit
                )
                setattr(method, field, fitted)
        return await make_request(bot, method)


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
