"""The Bot API methods a bot calls, with Telegram's answers and errors."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from .state import (
    DEFAULT_UPDATE_TYPES,
    BotState,
    Charge,
    ChatLog,
    FileRec,
    PendingAnswer,
    Webhook,
    World,
    now,
)
from .validation import (
    BotApiError,
    bad_request,
    check_commands,
    check_inline_keyboard,
    check_reply_markup,
    forbidden,
    parse_text,
)
from .webhook import start_delivery

TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
JSON_PARAMS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "allowed_updates",
    "prices",
    "results",
    "commands",
    "scope",
    "link_preview_options",
    "reply_parameters",
    "suggested_tip_amounts",
    "button",
    "media",
}
INT_PARAMS = {
    "message_id",
    "offset",
    "limit",
    "timeout",
    "user_id",
    "cache_time",
    "max_connections",
    "message_thread_id",
    "max_tip_amount",
    "photo_size",
    "photo_width",
    "photo_height",
    "from_chat_id",
}
BOOL_PARAMS = {
    "show_alert",
    "ok",
    "drop_pending_updates",
    "disable_notification",
    "protect_content",
    "is_personal",
    "need_name",
    "need_phone_number",
    "need_email",
    "need_shipping_address",
    "is_flexible",
    "has_spoiler",
    "show_caption_above_media",
    "disable_content_type_detection",
    "allow_paid_broadcast",
}
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
Method = Callable[["BotApi", BotState, dict[str, Any]], Awaitable[Any]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(func: Method) -> Method:
        METHODS[name.lower()] = func
        return func

    return register


class Upload:
    """A file part of a multipart request."""

    def __init__(self, data: bytes, filename: str | None, content_type: str | None) -> None:
        self.data = data
        self.filename = filename
        self.content_type = content_type


async def read_params(request: web.Request) -> dict[str, Any]:
    """Collect parameters from the query string and a JSON, form or multipart body."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise bad_request("can't parse JSON body") from error
            if not isinstance(body, dict):
                raise bad_request("request body must be a JSON object")
            params.update(body)
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            uploads: dict[str, Upload] = {}
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    uploads[part.name] = Upload(
                        await part.read(), part.filename, part.headers.get("Content-Type")
                    )
                else:
                    params[part.name] = await part.text()
            for name, upload in uploads.items():
                params.setdefault(name, upload)
                params[f"attach://{name}"] = upload
        else:
            params.update(await request.post())
    return params


def _coerce(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError as error:
            raise bad_request(f"can't parse {name} JSON object") from error
    if name in INT_PARAMS:
        try:
            return int(value)
        except ValueError as error:
            raise bad_request(f"invalid {name} specified") from error
    if name in BOOL_PARAMS:
        return value.lower() in {"true", "1"}
    return value


class BotApi:
    def __init__(self, world: World) -> None:
        self.world = world
        self.http: Any = None  # aiohttp.ClientSession, set by the server for webhook delivery

    async def handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        name = request.match_info["method"]
        if not TOKEN.match(token):
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        bot = self.world.bot(token)
        try:
            params = await read_params(request)
        except BotApiError as error:
            self._record(bot, name, {}, {"ok": False, "error": error.payload()})
            return web.json_response(error.payload(), status=error.code)
        status, body = await self.call_and_record(bot, name, params)
        return web.json_response(body, status=status)

    async def call_and_record(self, bot: BotState, name: str, params: dict[str, Any]) -> tuple[int, dict]:
        """Run a method, log it, and give the HTTP status and Telegram-shaped body."""
        params = {key: _coerce(key, value) for key, value in params.items()}
        try:
            result = await self.call(bot, name, params)
        except BotApiError as error:
            self._record(bot, name, params, {"ok": False, "error": error.payload()})
            return error.code, error.payload()
        self._record(bot, name, params, {"ok": True, "result": result})
        return 200, {"ok": True, "result": result}

    async def call(self, bot: BotState, name: str, params: dict[str, Any]) -> Any:
        """Run one method as Telegram would, faults and limits included."""
        impl = METHODS.get(name.lower())
        if impl is None:
            raise BotApiError(404, "Not Found")
        chat_id = self.world.resolve_chat_id(params["chat_id"]) if "chat_id" in params else None
        fault = self.world.take_fault(name, chat_id)
        if fault is not None:
            await self._apply_fault(fault)
        return await impl(self, bot, params)

    async def _apply_fault(self, fault: Any) -> None:
        kind = fault.kind
        if kind == "slow":
            await asyncio.sleep(fault.delay)
            return
        if kind == "timeout":
            await asyncio.sleep(fault.delay)
            raise BotApiError(504, fault.description or "Gateway Timeout")
        if kind == "429":
            raise BotApiError(
                429, f"Too Many Requests: retry after {fault.retry_after}", {"retry_after": fault.retry_after}
            )
        if kind == "403":
            raise forbidden(fault.description or "bot was blocked by the user")
        if kind == "400":
            raise bad_request(fault.description or "injected fault")
        code = int(kind)
        reasons = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        raise BotApiError(code, fault.description or reasons.get(code, "Server Error"))

    def _record(self, bot: BotState, name: str, params: dict[str, Any], outcome: dict[str, Any]) -> None:
        stats = self.world.stats
        stats.methods[name] = stats.methods.get(name, 0) + 1
        if not outcome["ok"]:
            stats.errors += 1
            if outcome["error"]["error_code"] == 429:
                stats.rate_limited += 1
        shown = {
            k: (f"<file {len(v.data)} bytes>" if isinstance(v, Upload) else v)
            for k, v in params.items()
            if not k.startswith("attach://")
        }
        self.world.log_call(bot.id, name, shown, outcome)

    # --- shared pieces ----------------------------------------------------------------------------
    def chat_for_send(self, bot: BotState, params: dict[str, Any]) -> ChatLog:
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        chat_id = self.world.resolve_chat_id(params["chat_id"])
        log = self.world.chat_log(bot, chat_id) if chat_id is not None else None
        if log is None:
            raise bad_request("chat not found")
        if log.chat["type"] == "private":
            if chat_id in bot.blocked_by:
                raise forbidden("bot was blocked by the user")
            if not log.started:
                raise forbidden("bot can't initiate conversation with a user")
        return log

    def existing_chat(self, bot: BotState, params: dict[str, Any]) -> ChatLog:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat_id = self.world.resolve_chat_id(params.get("chat_id", ""))
        log = self.world.chat_log(bot, chat_id) if chat_id is not None else None
        if log is None:
            raise bad_request("chat not found")
        return log

    def check_rate(self, bot: BotState, chat_id: int) -> None:
        wait = self.world.rate_limit_wait(bot, chat_id)
        if wait:
            raise BotApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def new_message(self, bot: BotState, log: ChatLog, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"from": bot.as_sender(), "chat": log.chat, "date": now()}
        reply = params.get("reply_parameters") or {}
        target = log.messages.get(reply.get("message_id", 0)) if isinstance(reply, dict) else None
        if target is not None:
            message["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
        elif reply and not (isinstance(reply, dict) and reply.get("allow_sending_without_reply")):
            raise bad_request("message to be replied not found")
        return message

    def deliver(
        self, bot: BotState, log: ChatLog, message: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict:
        if markup is not None:
            if "inline_keyboard" in markup:
                message["reply_markup"] = markup
            elif "keyboard" in markup:
                log.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                log.reply_keyboard = None
        self.check_rate(bot, log.chat["id"])
        stored = log.add(message)
        self.world.stats.record_sent(log.chat["id"])
        return stored

    def find_message(self, log: ChatLog, params: dict[str, Any], missing: str) -> dict[str, Any]:
        message = log.messages.get(params.get("message_id", 0))
        if message is None:
            raise bad_request(missing)
        return message

    def store_upload(self, value: Any, params: dict[str, Any], kind: str) -> FileRec:
        """A file given as upload, file_id or URL, as Telegram resolves it."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value)
        if isinstance(value, Upload):
            return self.add_file(value.data, value.filename, value.content_type)
        if isinstance(value, str) and value in self.world.files:
            return self.world.files[value]
        if isinstance(value, str) and re.match(r"^https?://\S+$", value):
            file_id = f"URL{secrets.token_hex(12)}"
            record = FileRec(
                file_id, secrets.token_hex(8), None, url=value, file_name=value.rsplit("/", 1)[-1]
            )
            self.world.files[file_id] = record
            return record
        raise bad_request(f"wrong file identifier/HTTP URL specified ({kind})")

    def add_file(self, data: bytes, filename: str | None, content_type: str | None) -> FileRec:
        file_id = f"AgAC{secrets.token_hex(16)}"
        width, height = image_size(data)
        record = FileRec(
            file_id,
            secrets.token_hex(8),
            data,
            mime_type=content_type or "application/octet-stream",
            file_name=filename,
            width=width,
            height=height,
        )
        self.world.files[file_id] = record
        return record

    def answer(self, bot: BotState, query_id: Any, kind: str, timeout: float, result: dict[str, Any]) -> None:
        pending = bot.pending.get(str(query_id))
        if pending is None or pending.kind != kind or time.monotonic() - pending.created > timeout:
            raise bad_request(QUERY_TOO_OLD)
        del bot.pending[str(query_id)]
        if not pending.future.done():
            pending.future.set_result(result)


def photo_sizes(record: FileRec) -> list[dict[str, Any]]:
    size: dict[str, Any] = {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "width": record.width or 320,
        "height": record.height or 320,
    }
    if record.data is not None:
        size["file_size"] = len(record.data)
    return [size]


def image_size(data: bytes) -> tuple[int, int]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image, or Pillow cannot read it: Telegram would still keep the file
        return 0, 0


def _same(old: Any, new: Any) -> bool:
    return (old or None) == (new or None)


# --- getting updates ------------------------------------------------------------------------------
@method("getMe")
async def get_me(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return bot.as_user()


@method("logOut")
@method("close")
async def log_out(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return True


@method("getUpdates")
async def get_updates(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    if bot.webhook is not None:
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    if params.get("allowed_updates") is not None:
        bot.allowed_updates = frozenset(params["allowed_updates"]) or DEFAULT_UPDATE_TYPES
    offset = int(params.get("offset") or 0)
    if offset > 0:
        while bot.updates and bot.updates[0]["update_id"] < offset:
            bot.updates.popleft()
    elif offset < 0:
        while len(bot.updates) > -offset:
            bot.updates.popleft()
    limit = min(max(int(params.get("limit") or 100), 1), 100)
    deadline = time.monotonic() + max(float(params.get("timeout") or 0), 0)
    me = object()
    bot.poller = me
    bot.update_changes.bump()  # wakes an older poller so it can see it was replaced
    while True:
        if bot.poller is not me:
            raise BotApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if bot.updates or bot.webhook is not None:
            return [bot.updates[i] for i in range(min(limit, len(bot.updates)))]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return []
        await bot.update_changes.wait_newer(bot.update_changes.version, remaining)


@method("setWebhook")
async def set_webhook(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    url = str(params.get("url") or "")
    if not url:
        return await delete_webhook(api, bot, params)
    if not re.match(r"^https?://\S+$", url):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", str(secret)):
        raise bad_request("secret token contains unallowed characters")
    if params.get("allowed_updates") is not None:
        bot.allowed_updates = frozenset(params["allowed_updates"]) or DEFAULT_UPDATE_TYPES
    if params.get("drop_pending_updates"):
        bot.updates.clear()
    max_connections = int(params.get("max_connections") or 40)
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    bot.webhook = Webhook(url, secret, max_connections)
    bot.update_changes.bump()
    start_delivery(api, bot)
    return True


@method("deleteWebhook")
async def delete_webhook(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    bot.webhook = None
    if bot.webhook_task is not None:
        bot.webhook_task.cancel()
        bot.webhook_task = None
    if params.get("drop_pending_updates"):
        bot.updates.clear()
    bot.update_changes.bump()
    return True


@method("getWebhookInfo")
async def get_webhook_info(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    info: dict[str, Any] = {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    hook = bot.webhook
    if hook is not None:
        info.update(
            url=hook.url, max_connections=hook.max_connections, allowed_updates=sorted(bot.allowed_updates)
        )
        if hook.last_error_date:
            info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
    return info


# --- sending --------------------------------------------------------------------------------------
@method("sendMessage")
async def send_message(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    log = api.chat_for_send(bot, params)
    parsed = parse_text(params.get("text"), params.get("parse_mode"))
    markup = check_reply_markup(params.get("reply_markup"))
    message = api.new_message(bot, log, params)
    message["text"] = parsed.text
    entities = parsed.entities or params.get("entities")
    if entities:
        message["entities"] = entities
    return api.deliver(bot, log, message, markup)


@method("sendPhoto")
async def send_photo(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return await _send_media(api, bot, params, "photo")


@method("sendDocument")
async def send_document(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return await _send_media(api, bot, params, "document")


async def _send_media(api: BotApi, bot: BotState, params: dict[str, Any], kind: str) -> Any:
    log = api.chat_for_send(bot, params)
    if not params.get(kind):
        raise bad_request(f"there is no {kind} in the request")
    parsed = parse_text(params.get("caption"), params.get("parse_mode"), caption=True)
    markup = check_reply_markup(params.get("reply_markup"))
    record = api.store_upload(params[kind], params, kind)
    message = api.new_message(bot, log, params)
    if kind == "photo":
        message["photo"] = photo_sizes(record)
    else:
        document: dict[str, Any] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_name": record.file_name or "file",
            "mime_type": record.mime_type,
        }
        if record.data is not None:
            document["file_size"] = len(record.data)
        message["document"] = document
    if parsed.text:
        message["caption"] = parsed.text
        if parsed.entities:
            message["caption_entities"] = parsed.entities
    return api.deliver(bot, log, message, markup)


@method("forwardMessage")
async def forward_message(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return _forward(api, bot, params, as_copy=False)


@method("copyMessage")
async def copy_message(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return {"message_id": _forward(api, bot, params, as_copy=True)["message_id"]}


def _forward(api: BotApi, bot: BotState, params: dict[str, Any], *, as_copy: bool) -> dict[str, Any]:
    log = api.chat_for_send(bot, params)
    source_id = api.world.resolve_chat_id(params.get("from_chat_id", ""))
    source = api.world.chat_log(bot, source_id) if source_id is not None else None
    original = source.messages.get(params.get("message_id", 0)) if source else None
    if original is None:
        raise bad_request("message to forward not found" if source else "chat not found")
    message = api.new_message(bot, log, params)
    for key in (
        "text",
        "entities",
        "photo",
        "document",
        "caption",
        "caption_entities",
        "contact",
        "location",
    ):
        if key in original:
            message[key] = copy.deepcopy(original[key])
    markup = check_reply_markup(params.get("reply_markup"))
    if "caption" in params:
        parsed = parse_text(params.get("caption"), params.get("parse_mode"), caption=True)
        message["caption"] = parsed.text
        message.pop("caption_entities", None)
        if parsed.entities:
            message["caption_entities"] = parsed.entities
    if not as_copy and "from" in original:
        message["forward_origin"] = {
            "type": "user",
            "sender_user": original["from"],
            "date": original["date"],
        }
    return api.deliver(bot, log, message, markup)


@method("sendInvoice")
async def send_invoice(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    log = api.chat_for_send(bot, params)
    title, description = str(params.get("title", "")), str(params.get("description", ""))
    payload, currency = str(params.get("payload", "")), str(params.get("currency", "")).upper()
    if not 1 <= len(title) <= 32:
        raise bad_request("INVOICE_TITLE_INVALID" if title else "title is empty")
    if not 1 <= len(description) <= 255:
        raise bad_request("INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode()) <= 128:
        raise bad_request("PAYLOAD_INVALID")
    if not re.match(r"^[A-Z]{3}$", currency):
        raise bad_request("CURRENCY_INVALID")
    prices = params.get("prices")
    if not isinstance(prices, list) or not prices:
        raise bad_request("prices must be a non-empty list of LabeledPrice")
    try:
        total = sum(int(price["amount"]) for price in prices)
    except (KeyError, TypeError, ValueError) as error:
        raise bad_request("can't parse prices JSON object") from error
    provider_token = params.get("provider_token") or ""
    if currency == "XTR":
        if provider_token:
            raise bad_request("PAYMENT_PROVIDER_INVALID: Telegram Stars invoices take no provider_token")
        if len(prices) != 1:
            raise bad_request("STARS_INVOICE_INVALID: Telegram Stars invoices take exactly one price")
    elif not provider_token:
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    if total <= 0:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    markup = params.get("reply_markup")
    if markup is not None:
        check_inline_keyboard(markup)
        first = (markup["inline_keyboard"] or [[{}]])[0][0]
        if not first.get("pay"):
            raise bad_request("the first button of an invoice must be a Pay button")
    message = api.new_message(bot, log, params)
    message["invoice"] = {
        "title": title,
        "description": description,
        "start_parameter": str(params.get("start_parameter") or ""),
        "currency": currency,
        "total_amount": total,
    }
    sent = api.deliver(bot, log, message, markup)
    log.invoices[sent["message_id"]] = {"payload": payload, "currency": currency, "total_amount": total}
    return sent


# --- editing --------------------------------------------------------------------------------------
@method("editMessageText")
async def edit_message_text(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    def new_text(message: dict[str, Any]) -> dict[str, Any]:
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        parsed = parse_text(params.get("text"), params.get("parse_mode"))
        return {"text": parsed.text, "entities": parsed.entities or params.get("entities") or None}

    return _edit(api, bot, params, new_text)


@method("editMessageCaption")
async def edit_message_caption(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    def new_caption(message: dict[str, Any]) -> dict[str, Any]:
        if not any(key in message for key in ("photo", "document", "video", "animation", "audio")):
            raise bad_request("there is no caption in the message to edit")
        parsed = parse_text(params.get("caption"), params.get("parse_mode"), caption=True)
        return {"caption": parsed.text or None, "caption_entities": parsed.entities or None}

    return _edit(api, bot, params, new_caption)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return _edit(api, bot, params, lambda message: {})


def _edit(
    api: BotApi,
    bot: BotState,
    params: dict[str, Any],
    content: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Apply an edit as Telegram does: the bot's own message, something must change, no reply_markup
    means no keyboard."""
    log = api.existing_chat(bot, params)
    message = api.find_message(log, params, "message to edit not found")
    if message.get("from", {}).get("id") != bot.id:
        raise bad_request("message can't be edited")
    changes = content(message)
    markup = params.get("reply_markup")
    if markup is not None:
        check_inline_keyboard(markup)
    changes["reply_markup"] = markup
    if all(_same(message.get(key), value) for key, value in changes.items()):
        raise bad_request(NOT_MODIFIED)
    for key, value in changes.items():
        _set(message, key, value)
    message["edit_date"] = now()
    log.changes.bump()
    return message


def _set(message: dict[str, Any], key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)


@method("deleteMessage")
async def delete_message(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    log = api.existing_chat(bot, params)
    api.find_message(log, params, "message to delete not found")
    del log.messages[params["message_id"]]
    log.changes.bump()
    return True


# --- answering queries ----------------------------------------------------------------------------
@method("answerCallbackQuery")
async def answer_callback_query(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    text = params.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    api.answer(
        bot,
        params.get("callback_query_id"),
        "callback",
        api.world.limits.callback_answer_seconds,
        {
            "answered": True,
            "text": text,
            "show_alert": bool(params.get("show_alert")),
            "url": params.get("url"),
        },
    )
    return True


@method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    if "ok" not in params:
        raise bad_request("parameter ok is required")
    if not params["ok"] and not params.get("error_message"):
        raise bad_request("error_message must be non-empty when ok is false")
    api.answer(
        bot,
        params.get("pre_checkout_query_id"),
        "pre_checkout",
        api.world.limits.pre_checkout_seconds,
        {"ok": bool(params["ok"]), "error_message": params.get("error_message")},
    )
    return True


@method("answerInlineQuery")
async def answer_inline_query(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    results = params.get("results")
    if not isinstance(results, list):
        raise bad_request("results must be an Array of InlineQueryResult")
    if len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        result_id = str(result.get("id", ""))
        if not 1 <= len(result_id.encode()) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            parse_text(content["message_text"], content.get("parse_mode"))
        if result.get("reply_markup") is not None:
            check_inline_keyboard(result["reply_markup"])
        if result.get("type") == "article" and not result.get("title"):
            raise bad_request("RESULT_TITLE_EMPTY")
    api.answer(
        bot,
        params.get("inline_query_id"),
        "inline",
        api.world.limits.callback_answer_seconds,
        {"answered": True, "results": results, "next_offset": params.get("next_offset", "")},
    )
    return True


@method("refundStarPayment")
async def refund_star_payment(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    charge = bot.charges.get(str(params.get("telegram_payment_charge_id", "")))
    if charge is None or charge.user_id != params.get("user_id") or charge.currency != "XTR":
        raise bad_request("CHARGE_NOT_FOUND")
    if charge.refunded:
        raise bad_request("CHARGE_ALREADY_REFUNDED")
    charge.refunded = True
    user = api.world.users.get(charge.user_id)
    log = api.world.chat_log(bot, charge.user_id)
    if user is not None and log is not None:
        message = log.add(
            {
                "from": user.as_user(),
                "chat": log.chat,
                "date": now(),
                "refunded_payment": {
                    "currency": "XTR",
                    "total_amount": charge.total_amount,
                    "invoice_payload": charge.payload,
                    "telegram_payment_charge_id": params["telegram_payment_charge_id"],
                },
            }
        )
        bot.push_update("message", copy.deepcopy(message))
    return True


# --- commands, chats, files -----------------------------------------------------------------------
def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


@method("setMyCommands")
async def set_my_commands(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    bot.commands[_commands_key(params)] = check_commands(params.get("commands"))
    return True


@method("getMyCommands")
async def get_my_commands(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    return bot.commands.get(_commands_key(params), [])


@method("deleteMyCommands")
async def delete_my_commands(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    bot.commands.pop(_commands_key(params), None)
    return True


@method("sendChatAction")
async def send_chat_action(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    api.chat_for_send(bot, params)
    if params.get("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


@method("getChat")
async def get_chat(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    chat_id = api.world.resolve_chat_id(params.get("chat_id", ""))
    if chat_id in api.world.users:
        info = api.world.users[chat_id].as_chat()
    elif chat_id in api.world.groups:
        info = api.world.groups[chat_id].as_chat()
    else:
        raise bad_request("chat not found")
    gifts = dict.fromkeys(
        ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
        False,
    )
    return {**info, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}


@method("getFile")
async def get_file(api: BotApi, bot: BotState, params: dict[str, Any]) -> Any:
    record = api.world.files.get(str(params.get("file_id", "")))
    if record is None or record.data is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": len(record.data),
        "file_path": record.file_path,
    }


def new_charge(bot: BotState, user_id: int, invoice: dict[str, Any]) -> str:
    charge_id = ("stx" if invoice["currency"] == "XTR" else "sbx") + secrets.token_hex(12)
    bot.charges[charge_id] = Charge(user_id, invoice["currency"], invoice["total_amount"], invoice["payload"])
    return charge_id


def new_pending(bot: BotState, world: World, kind: str, **extra: Any) -> tuple[str, PendingAnswer]:
    query_id = world.next_query_id()
    pending = PendingAnswer(kind, time.monotonic(), asyncio.get_running_loop().create_future(), extra)
    bot.pending[query_id] = pending
    return query_id, pending


def chat_instance(bot: BotState, chat_id: int) -> str:
    return str(int(hashlib.sha1(f"{bot.id}:{chat_id}".encode()).hexdigest()[:15], 16))
