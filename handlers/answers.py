"""Shared ways of answering: edit in place, explain a domain error, match menu buttons."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from shop.errors import DomainError

from .limits import ALERT_LIMIT, clip, utf16_len
from .render import Texts

MENU_KEYS = ("catalog", "cart", "orders", "help")  # the main menu's buttons, in its order

log = logging.getLogger("orderbot.handlers")
T = TypeVar("T")


async def show(callback: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the pressed message's text and buttons (pages never pile up), or send anew."""
    message = callback.message
    if isinstance(message, Message) and message.text is not None:
        if message.html_text == text and message.reply_markup == markup:
            return  # nothing changed: Telegram would refuse the edit
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as error:
            if "message is not modified" in str(error):
                return
            log.info("could not edit message %s: %s", message.message_id, error)
    if isinstance(message, Message):
        await message.answer(text, reply_markup=markup)


_TAG = re.compile(r"<[^>]*>")


def untagged(text: str) -> str:
    """A rendered message as plain text: no tags, entities decoded, its lines kept (without the blank
    ones and the spaces at their ends)."""
    lines = (line.strip() for line in html.unescape(_TAG.sub("", text)).splitlines())
    return "\n".join(line for line in lines if line)


def plain(text: str, limit: int = ALERT_LIMIT) -> str:
    """A rendered message as plain text for a callback answer (a pop-up keeps its line breaks)."""
    return clip(untagged(text), limit)


async def explain(event: Message | CallbackQuery, t: Texts, error: DomainError) -> None:
    """Tell the customer, kindly, why that did not work."""
    text = t("errors.error", code=error.code, params=_shortened(error.params))
    if isinstance(event, CallbackQuery):
        if utf16_len(untagged(text)) <= ALERT_LIMIT:
            await event.answer(plain(text), show_alert=True)
            return
        await event.answer()
        if isinstance(event.message, Message):
            await event.message.answer(text)
        return
    await event.answer(text)


def _shortened(params: dict[str, Any], limit: int = 64) -> dict[str, Any]:
    """What the customer typed, echoed in an error, at most ``limit`` characters: a 5000-character pickup
    code must not make the answer longer than Telegram takes."""
    return {k: v[:limit] + "…" if isinstance(v, str) and len(v) > limit else v for k, v in params.items()}


def whole_number(text: str | None) -> int | None:
    """An order, payment or customer number as staff type it ("12" or "#12"); None for anything else."""
    text = (text or "").strip().lstrip("#")
    return int(text) if text.isdecimal() and text.isascii() and len(text) < 12 else None


async def run_and_answer(
    message: Message, t: Texts, work: Awaitable[T], template: str, name: str
) -> T | None:
    """Run a service call; explain a domain error, or answer with ``template`` (the result as ``name``)."""
    try:
        result = await work
    except DomainError as error:
        await explain(message, t, error)
        return None
    await message.answer(t(template, **{name: result}))
    return result


class MenuButton(Filter):
    """A tap on a main-menu button, in the customer's language."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def __call__(self, message: Message, t: Texts, **_: Any) -> bool:
        return message.text == t.label(self.key)


def another_request(message: Message, t: Texts) -> bool:
    """A command or a tap on the main menu (always on screen): a request of its own, never the answer
    to the question a conversation asked."""
    text = message.text or ""
    return text.startswith("/") or any(text == t.label(key) for key in MENU_KEYS)


class Answer(Filter):
    """A message that may be the answer to a conversation's question: not ``another_request``."""

    async def __call__(self, message: Message, t: Texts, **_: Any) -> bool:
        return not another_request(message, t)
