"""The bot's Bot API session: what it reads of Telegram's answers."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.methods import SendMediaGroup
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from PIL import Image

from bot.telegram_session import JsonSession, loads_without_echo

from .conftest import Shop


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 160, 90)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def test_a_sent_messages_keyboard_and_formatting_are_left_out_and_nothing_else() -> None:
    bold = [{"type": "bold", "offset": 0, "length": 3}]
    message = {
        "message_id": 5,
        "text": "Tea",
        "entities": bold,
        "reply_markup": {"inline_keyboard": [[{"text": "a"}]]},
    }
    answer = loads_without_echo(json.dumps({"ok": True, "result": message}))
    assert answer == {"ok": True, "result": {"message_id": 5, "text": "Tea"}}
    photo = {"message_id": 6, "photo": [{"file_id": "f"}], "caption": "Tea", "caption_entities": bold}
    answer = loads_without_echo(json.dumps({"ok": True, "result": photo}))
    assert answer["result"] == {"message_id": 6, "photo": [{"file_id": "f"}], "caption": "Tea"}
    updates = {"ok": True, "result": [{"update_id": 1, "callback_query": {"message": message}}]}
    assert loads_without_echo(json.dumps(updates)) == updates  # updates are left whole
    refused = {"ok": False, "error_code": 429, "description": "Too Many", "parameters": {"retry_after": 3}}
    assert loads_without_echo(json.dumps(refused)) == refused
    assert loads_without_echo("true") is True


async def test_the_bot_still_reads_what_it_sent_and_the_customer_sees_the_keyboard(shop: Shop) -> None:
    ann = await shop.started()
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Tea", callback_data="t")]])
    sent = await shop.bot.send_message(ann.id, "<b>Menu</b> &amp; more", reply_markup=markup)
    assert sent.message_id > 0 and (sent.text, sent.chat.id) == ("Menu & more", ann.id)
    assert sent.reply_markup is None and sent.entities is None  # not read back
    shown = await ann.wait_for(text="Menu & more")
    assert shown["reply_markup"]["inline_keyboard"][0][0]["text"] == "Tea"
    edited = await shop.bot.edit_message_text("Menu, again", chat_id=ann.id, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "Menu, again"


async def test_parameters_go_as_one_json_body_with_the_bots_defaults_and_uploads_as_a_form(
    shop: Shop,
) -> None:
    ann = await shop.started()
    since = (await shop.client.calls())[-1]["seq"]
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Tea 🍵", callback_data="t")]])
    await shop.bot.send_message(ann.id, "<i>Tea</i> &lt;3", reply_markup=markup, disable_notification=False)
    await ann.wait_for(text="Tea <3")
    await shop.bot.send_photo(ann.id, BufferedInputFile(PNG, "tea.png"), caption="<b>Green</b> tea")
    shown = await ann.wait_for(predicate=lambda m: m.get("caption") == "Green tea")
    assert shown["caption_entities"][0]["type"] == "bold"  # the bot's default parse mode, in the form too
    sent, uploaded = [c for c in await shop.client.calls(since=since) if c["bot_id"] == shop.bot.id]
    params = sent["params"]
    # JSON carries types: the keyboard an object, a flag a boolean (a form sends both as strings)
    assert params["reply_markup"] == {"inline_keyboard": [[{"text": "Tea 🍵", "callback_data": "t"}]]}
    assert params["disable_notification"] is False
    assert params["parse_mode"] == "HTML" and params["link_preview_options"] == {"is_disabled": True}
    assert None not in params.values()
    assert uploaded["ok"] and uploaded["method"] == "sendPhoto"


def test_a_nested_default_is_resolved_and_a_nested_file_makes_an_upload() -> None:
    session = JsonSession()
    bot = Bot("1:x", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    files: dict[str, Any] = {}
    media = SendMediaGroup(
        chat_id=1,
        media=[
            InputMediaPhoto(media="file-id", caption="<b>a</b>"),
            InputMediaPhoto(media=BufferedInputFile(PNG, "b.png")),
        ],
    )
    plain = session._plain(media.model_dump(warnings=False, exclude_none=True), bot, files)
    first, second = plain["media"]
    assert first == {"type": "photo", "media": "file-id", "caption": "<b>a</b>", "parse_mode": "HTML"}
    assert second["media"].startswith("attach://") and list(files) == [second["media"][9:]]


async def test_what_no_view_made_fit_is_cut_between_tags_not_refused(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """The last line of defence (``FitToLimits``): a text, a caption and an alert too long for Telegram."""
    ann = await shop.started()
    text = "<b>Menu</b>\n" + "<i>tea &amp; cake 😀</i> " * 300  # 5 412 to show, as Telegram counts
    sent = await shop.bot.send_message(ann.id, text)
    shown = await ann.wait_for(text="Menu")
    assert sent.text == shown["text"] and len(shown["text"].encode("utf-16-le")) // 2 == 4096
    assert shown["text"].endswith("…") and shown["entities"][-1]["type"] == "italic"
    await shop.bot.send_photo(ann.id, BufferedInputFile(PNG, "p.png"), caption=text)
    photo = await ann.wait_for(lambda m: "photo" in m)
    assert len(photo["caption"].encode("utf-16-le")) // 2 == 1024
    assert [r.getMessage() for r in caplog.records if "was cut" in r.getMessage()] == [
        "SendMessage: the text was cut to Telegram's limit (4096)",
        "SendPhoto: the caption was cut to Telegram's limit (1024)",
    ]
