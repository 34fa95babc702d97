"""What simulated users do: write, press buttons, pay invoices, type inline queries, block the bot."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import re
from typing import Any

from .botapi import BotApi, chat_instance, new_charge, new_pending, photo_sizes
from .formatting import utf16_len
from .state import BotState, ChatLog, UserRec, now
from .validation import MAX_TEXT

# What a person's app can mark in a message they write (Telegram's MessageEntity types).
USER_ENTITIES = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "blockquote",
    "expandable_blockquote",
    "custom_emoji",
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "phone_number",
}
COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{1,64})?")


class ActionError(Exception):
    """A simulated user tried something a Telegram client would not let them do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Actions:
    def __init__(self, api: BotApi) -> None:
        self.api = api
        self.world = api.world

    # --- where -------------------------------------------------------------------------------------
    def chat(self, bot: BotState, user: UserRec, chat_id: int | None = None) -> ChatLog:
        """The user's private chat with the bot, or a group the user is in."""
        if chat_id is None or chat_id == user.id:
            log = self.world.chat_log(bot, user.id)
        else:
            group = self.world.groups.get(chat_id)
            if group is None:
                raise ActionError(404, f"no group {chat_id}")
            if user.id not in group.members:
                raise ActionError(403, f"user {user.id} is not a member of group {chat_id}")
            log = self.world.chat_log(bot, chat_id)
        assert log is not None
        return log

    # --- writing -------------------------------------------------------------------------------------
    def send(self, bot: BotState, user: UserRec, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a text, contact, photo, location or document; long texts split as clients do."""
        log = self.chat(bot, user, body.get("chat_id"))
        if log.chat["type"] == "private":
            if user.id in bot.blocked_by:
                self.set_blocked(bot, user, False)  # writing to a blocked bot restarts it, as in Telegram
            log.started = True
        contents = self._contents(user, body)
        reply_to = log.messages.get(int(body.get("reply_to_message_id") or 0))
        sent = []
        for content in contents:
            message = {"from": user.as_user(), "chat": log.chat, "date": now(), **content}
            if reply_to is not None:
                message["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
            stored = log.add(message)
            bot.push_update("message", copy.deepcopy(stored))
            sent.append(stored)
        keyboard = log.reply_keyboard
        if keyboard and keyboard.get("one_time_keyboard") and _pressed_reply_button(keyboard, contents[-1]):
            log.reply_keyboard = None
        return sent

    def _contents(self, user: UserRec, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "text" in body:
            text = str(body["text"])
            if not text.strip():
                raise ActionError(400, "a message needs some text")
            if body.get("entities") is not None:  # formatting the person gave it (bold, a link...)
                if len(text) > MAX_TEXT:
                    raise ActionError(400, "a formatted message must fit in one message")
                formatted = _text_content(text)
                formatted["entities"] = [*formatted.get("entities", []), *_entities(text, body["entities"])]
                return [formatted]
            return [_text_content(text[i : i + MAX_TEXT]) for i in range(0, len(text), MAX_TEXT)]
        if "contact" in body:
            contact = dict(body["contact"] or {})
            contact.setdefault("phone_number", user.phone_number)
            contact.setdefault("first_name", user.first_name)
            contact.setdefault("user_id", user.id)
            if not str(contact["phone_number"]).strip():
                raise ActionError(400, "a contact needs a phone_number")
            return [{"contact": contact}]
        if "location" in body:
            location = body["location"] or {}
            try:
                point = {"latitude": float(location["latitude"]), "longitude": float(location["longitude"])}
            except (KeyError, TypeError, ValueError) as error:
                raise ActionError(400, "a location needs latitude and longitude") from error
            return [{"location": point}]
        if "photo" in body:
            spec = body["photo"] or {}
            caption = spec.get("caption")
            record = self.api.add_file(_receipt_png(user, caption), "photo.png", "image/png")
            content: dict[str, Any] = {"photo": photo_sizes(record)}
            if caption:
                content["caption"] = str(caption)[:1024]
                if spec.get("caption_entities") is not None:
                    content["caption_entities"] = _entities(content["caption"], spec["caption_entities"])
            return [content]
        if "document" in body:
            spec = body["document"] or {}
            if "content_base64" in spec:
                data = base64.b64decode(spec["content_base64"])
            else:
                data = str(spec.get("content", "")).encode()
            name = str(spec.get("file_name") or "file.txt")
            record = self.api.add_file(data, name, spec.get("mime_type") or "text/plain")
            document = {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_name": name,
                "mime_type": record.mime_type,
                "file_size": len(data),
            }
            content = {"document": document}
            if spec.get("caption"):
                content["caption"] = str(spec["caption"])[:1024]
            return [content]
        raise ActionError(400, "send needs one of text, contact, photo, location, document")

    # --- buttons -------------------------------------------------------------------------------------
    async def press(self, bot: BotState, user: UserRec, body: dict[str, Any]) -> dict[str, Any]:
        log = self.chat(bot, user, body.get("chat_id"))
        message_id = int(body.get("message_id") or 0)
        data = body.get("data")
        message = log.messages.get(message_id)
        if message is None:
            raise ActionError(404, f"message {message_id} is not in this chat (deleted or never sent)")
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        if not any(b.get("callback_data") == data for b in buttons):
            raise ActionError(400, f"message {message_id} has no button with callback_data {data!r}")
        query_id, pending = new_pending(bot, self.world, "callback")
        bot.push_update(
            "callback_query",
            {
                "id": query_id,
                "from": user.as_user(),
                "message": copy.deepcopy(message),
                "chat_instance": chat_instance(bot, log.chat["id"]),
                "data": data,
            },
        )
        wait = min(
            float(body.get("wait") or self.world.limits.callback_answer_seconds),
            self.world.limits.callback_answer_seconds,
        )
        return await _wait_answer(pending.future, wait, {"answered": False, "query_id": query_id})

    # --- payments ------------------------------------------------------------------------------------
    async def pay(self, bot: BotState, user: UserRec, body: dict[str, Any]) -> dict[str, Any]:
        log = self.chat(bot, user, body.get("chat_id"))
        message_id = int(body.get("message_id") or 0)
        invoice = log.invoices.get(message_id)
        if invoice is None or message_id not in log.messages:
            raise ActionError(404, f"message {message_id} is not an invoice in this chat")
        if invoice.get("paid"):
            raise ActionError(409, "this invoice is already paid")
        query_id, pending = new_pending(bot, self.world, "pre_checkout")
        bot.push_update(
            "pre_checkout_query",
            {
                "id": query_id,
                "from": user.as_user(),
                "currency": invoice["currency"],
                "total_amount": invoice["total_amount"],
                "invoice_payload": invoice["payload"],
            },
        )
        answer = await _wait_answer(
            pending.future,
            self.world.limits.pre_checkout_seconds,
            {
                "ok": False,
                "error_message": "the bot did not answer the pre-checkout query within the time limit",
            },
        )
        if not answer.get("ok"):
            return {"ok": False, "error_message": answer.get("error_message")}
        invoice["paid"] = True
        charge_id = new_charge(bot, user.id, invoice)
        payment = {
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"],
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "" if invoice["currency"] == "XTR" else f"prov_{charge_id}",
        }
        message = log.add(
            {"from": user.as_user(), "chat": log.chat, "date": now(), "successful_payment": payment}
        )
        bot.push_update("message", copy.deepcopy(message))
        return {"ok": True, "message": message}

    # --- inline mode ---------------------------------------------------------------------------------
    async def inline(self, bot: BotState, user: UserRec, body: dict[str, Any]) -> dict[str, Any]:
        query_id, pending = new_pending(bot, self.world, "inline")
        bot.push_update(
            "inline_query",
            {
                "id": query_id,
                "from": user.as_user(),
                "query": str(body.get("query", ""))[:256],
                "offset": str(body.get("offset", "")),
                "chat_type": str(body.get("chat_type", "sender")),
            },
        )
        wait = min(
            float(body.get("wait") or self.world.limits.callback_answer_seconds),
            self.world.limits.callback_answer_seconds,
        )
        return await _wait_answer(pending.future, wait, {"answered": False, "results": []})

    # --- blocking ------------------------------------------------------------------------------------
    def set_blocked(self, bot: BotState, user: UserRec, blocked: bool) -> None:
        if (user.id in bot.blocked_by) == blocked:
            return
        (bot.blocked_by.add if blocked else bot.blocked_by.discard)(user.id)
        me = bot.as_sender()
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot.push_update(
            "my_chat_member",
            {
                "chat": user.as_chat(),
                "from": user.as_user(),
                "date": now(),
                "old_chat_member": _member(old, me),
                "new_chat_member": _member(new, me),
            },
        )


def _member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    return {"status": status, "user": user, **({"until_date": 0} if status == "kicked" else {})}


def _entities(text: str, given: Any) -> list[dict[str, Any]]:
    """Formatting as a Telegram app marks it: known types, each inside the text (UTF-16 offsets)."""
    if not isinstance(given, list):
        raise ActionError(400, "entities must be a list")
    size, entities = utf16_len(text), []
    for entity in given:
        if not isinstance(entity, dict) or entity.get("type") not in USER_ENTITIES:
            raise ActionError(400, f"unknown entity {entity!r}")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 1:
            raise ActionError(400, "an entity needs an offset and a length")
        if offset + length > size:
            raise ActionError(400, "an entity must lie inside the text")
        if entity["type"] == "text_link" and not re.match(r"^(https?|tg)://\S+$", str(entity.get("url", ""))):
            raise ActionError(400, "a text_link needs a url")
        entities.append(dict(entity))
    return entities


def _text_content(text: str) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    match = COMMAND.match(text)
    if match:
        content["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(match.group(0).encode("utf-16-le")) // 2}
        ]
    return content


def _pressed_reply_button(keyboard: dict[str, Any], content: dict[str, Any]) -> bool:
    labels = {
        (b if isinstance(b, str) else b.get("text")) for row in keyboard.get("keyboard", []) for b in row
    }
    return "contact" in content or "location" in content or content.get("text") in labels


async def _wait_answer(
    future: asyncio.Future[dict[str, Any]], timeout: float, missing: dict[str, Any]
) -> dict:
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        return missing


def _receipt_png(user: UserRec, caption: str | None) -> bytes:
    """A small generated photo, so a bot that downloads it gets a real image."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 640), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 460, 620), outline=(40, 40, 40), width=3)
    lines = ["SANDBOX RECEIPT", f"from {user.first_name}", (caption or "")[:40]]
    for i, line in enumerate(lines):
        draw.text((40, 50 + 40 * i), line, fill=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
