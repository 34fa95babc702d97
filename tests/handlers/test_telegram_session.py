"""JsonSession: requests without files go as one JSON body; uploads stay multipart; answers read as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web

from bot.telegram_session import JsonSession

MESSAGE = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "hi"}


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[Bot, list[dict[str, Any]]]]:
    """A local HTTP server answering as Telegram does, recording what each request carried."""
    seen: list[dict[str, Any]] = []

    async def answer(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = {name: value for name, value in (await request.post()).items()}
        seen.append({"method": method, "content_type": request.content_type, "body": body})
        if body.get("text") == "same":
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"},
                status=400,
            )
        return web.json_response({"ok": True, "result": MESSAGE})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    session = JsonSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}"))
    bot = Bot("123:ABC", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    try:
        yield bot, seen
    finally:
        await bot.session.close()
        await runner.cleanup()


async def test_a_message_goes_as_one_json_object(telegram: tuple[Bot, list[dict[str, Any]]]) -> None:
    bot, seen = telegram
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Tea & <cake>", callback_data="c:1")]]
    )
    sent = await bot.send_message(42, "<b>hi</b> 🍵", reply_markup=markup, disable_notification=False)
    assert sent.message_id == 7 and sent.chat.id == 42
    [request] = seen
    assert request["method"] == "sendMessage" and request["content_type"] == "application/json"
    assert request["body"] == {
        "chat_id": 42,
        "text": "<b>hi</b> 🍵",
        "parse_mode": "HTML",  # the bot's default, resolved as aiogram's form would
        "disable_notification": False,  # a False is sent, not dropped
        "reply_markup": {"inline_keyboard": [[{"text": "Tea & <cake>", "callback_data": "c:1"}]]},
    }


async def test_an_upload_stays_a_multipart_form(telegram: tuple[Bot, list[dict[str, Any]]]) -> None:
    bot, seen = telegram
    await bot.send_photo(42, BufferedInputFile(b"\x89PNG fake", "tea.png"), caption="Tea")
    [request] = seen
    assert request["method"] == "sendPhoto" and request["content_type"] == "multipart/form-data"
    assert request["body"]["caption"] == "Tea" and request["body"]["photo"].startswith("attach://")


async def test_a_refusal_is_the_error_aiogram_raises(telegram: tuple[Bot, list[dict[str, Any]]]) -> None:
    bot, _ = telegram
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.send_message(42, "same")
