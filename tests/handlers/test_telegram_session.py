"""The bot's Bot API session: what it reads of Telegram's answers."""

from __future__ import annotations

import json

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram_session import loads_without_keyboards

from .conftest import Shop


def test_a_sent_messages_keyboard_is_left_out_and_nothing_else() -> None:
    message = {"message_id": 5, "text": "Tea", "reply_markup": {"inline_keyboard": [[{"text": "a"}]]}}
    answer = loads_without_keyboards(json.dumps({"ok": True, "result": message}))
    assert answer == {"ok": True, "result": {"message_id": 5, "text": "Tea"}}
    updates = {"ok": True, "result": [{"update_id": 1, "callback_query": {"message": message}}]}
    assert loads_without_keyboards(json.dumps(updates)) == updates  # updates are left whole
    refused = {"ok": False, "error_code": 429, "description": "Too Many", "parameters": {"retry_after": 3}}
    assert loads_without_keyboards(json.dumps(refused)) == refused
    assert loads_without_keyboards("true") is True


async def test_the_bot_still_reads_what_it_sent_and_the_customer_sees_the_keyboard(shop: Shop) -> None:
    ann = await shop.started()
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Tea", callback_data="t")]])
    sent = await shop.bot.send_message(ann.id, "<b>Menu</b> &amp; more", reply_markup=markup)
    assert sent.message_id > 0 and (sent.text, sent.chat.id) == ("Menu & more", ann.id)
    assert sent.reply_markup is None  # not read back
    shown = await ann.wait_for(text="Menu & more")
    assert shown["reply_markup"]["inline_keyboard"][0][0]["text"] == "Tea"
    edited = await shop.bot.edit_message_text("Menu, again", chat_id=ann.id, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "Menu, again"
